import Link from "next/link";
import { currentUser } from "@/lib/session";
import { signIn } from "./actions";

export default async function Home() {
  const user = await currentUser();
  return (
    <main>
      <h1>Three ways to call AI through keyward</h1>
      <p>The provider key lives only in keyward. This app holds keyward keys, server-side; the browser holds at most a 5-minute token.</p>
      <ul>
        <li>
          <Link href="/server-action">Server Action</Link>: the server calls keyward as the signed-in user and streams the answer.
        </li>
        <li>
          <Link href="/browser-token">Browser token</Link>: the browser streams straight from keyward with a short-lived token the app mints.
        </li>
        <li>
          <Link href="/route-handler">Route Handler</Link>: the app&apos;s own API route checks the session, asks keyward for a decision and validates input.
        </li>
      </ul>
      {user ? null : (
        <form action={signIn} style={{ display: "flex", gap: "0.5rem" }}>
          <input name="user" data-testid="user" placeholder="a user id, such as alice" required />
          <button type="submit" data-testid="sign-in">
            Sign in
          </button>
        </form>
      )}
    </main>
  );
}
