import { SignedOut } from "@/components/SignedOut";
import { currentUser } from "@/lib/session";
import { Chat } from "./chat";

export default async function Page() {
  const user = await currentUser();
  return (
    <main>
      <h1>Route Handler</h1>
      <p>
        The browser posts to this app&apos;s own <code>/api/chat</code>, which checks the session, asks keyward for a decision
        (<code>protect()</code>), validates the input and streams the answer.
      </p>
      {user ? <Chat /> : <SignedOut next="/route-handler" />}
    </main>
  );
}
