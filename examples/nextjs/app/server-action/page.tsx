import { SignedOut } from "@/components/SignedOut";
import { currentUser } from "@/lib/session";
import { Chat } from "./chat";

export default async function Page() {
  const user = await currentUser();
  return (
    <main>
      <h1>Server Action</h1>
      <p>The prompt goes to a Server Action, which calls keyward as {user ?? "the signed-in user"} and streams the answer back.</p>
      {user ? <Chat /> : <SignedOut next="/server-action" />}
    </main>
  );
}
