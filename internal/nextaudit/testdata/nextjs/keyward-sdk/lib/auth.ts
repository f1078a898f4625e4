import "server-only";
import { cookies } from "next/headers";

// auth stands in for the app's real session check (Auth.js, Clerk, …).
export async function auth(): Promise<{ id: string } | null> {
  const session = (await cookies()).get("session")?.value;
  return session ? { id: session } : null;
}
