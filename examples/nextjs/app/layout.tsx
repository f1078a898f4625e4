import type { ReactNode } from "react";
import Link from "next/link";
import { currentUser } from "@/lib/session";
import { signOut } from "./actions";

export const metadata = { title: "keyward × Next.js" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", maxWidth: 720, margin: "2rem auto", padding: "0 1rem" }}>
        <header style={{ display: "flex", gap: "1rem", alignItems: "center", marginBottom: "1.5rem" }}>
          <Link href="/">keyward × Next.js</Link>
          <span style={{ marginLeft: "auto" }} data-testid="whoami">
            {user ? `signed in as ${user}` : "not signed in"}
          </span>
          {user ? (
            <form action={signOut}>
              <button type="submit">Sign out</button>
            </form>
          ) : null}
        </header>
        {children}
      </body>
    </html>
  );
}
