import { SignedOut } from "@/components/SignedOut";
import { currentUser } from "@/lib/session";
import { Chat } from "./chat";

export default async function Page() {
  const user = await currentUser();
  return (
    <main>
      <h1>Browser token</h1>
      <p>
        The browser asks this app for a short-lived token (POST /api/keyward/token), then streams straight from keyward with it.
        The token works only from this origin, only for {user ?? "the signed-in user"}, and only within the app&apos;s own key.
      </p>
      {user ? <Chat /> : <SignedOut next="/browser-token" />}
    </main>
  );
}
