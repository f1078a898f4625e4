import "server-only";
import { cookies } from "next/headers";

// currentUser stands in for the app's real session check (Auth.js, Clerk, …).
export async function currentUser() {
  const session = (await cookies()).get("session")?.value;
  return session ? { id: session } : null;
}
