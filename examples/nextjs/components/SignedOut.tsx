import Link from "next/link";
import { signIn } from "@/app/actions";

/** What a page shows before sign-in. */
export function SignedOut({ next }: { next: string }) {
  return (
    <form action={signIn} style={{ display: "flex", gap: "0.5rem" }}>
      <input type="hidden" name="next" value={next} />
      <input name="user" data-testid="user" placeholder="a user id, such as alice" required />
      <button type="submit" data-testid="sign-in">
        Sign in
      </button>
      <Link href="/">back</Link>
    </form>
  );
}
