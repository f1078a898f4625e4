import Link from "next/link";

export default function Home() {
  return (
    <main>
      <Link href="/browser-token">Ask from the browser</Link>
      <Link href="/server-action">Ask through a Server Action</Link>
    </main>
  );
}
