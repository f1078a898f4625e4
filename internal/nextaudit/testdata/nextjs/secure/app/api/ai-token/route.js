import { currentUser } from "@/lib/auth";

// Mints a short-lived keyward browser token for the signed-in user.
export async function POST() {
  const user = await currentUser();
  if (!user) return new Response(null, { status: 401 });
  const r = await fetch(`${process.env.KEYWARD_URL}/v1/tokens`, {
    method: "POST",
    headers: { Authorization: `Bearer ${process.env.KEYWARD_MINT_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ user: user.id, ttl_seconds: 300, models: ["fast"] }),
  });
  return Response.json(await r.json(), { status: r.status });
}
