import "server-only";

// The app holds only a keyward client key, server-side; keyward holds the
// provider keys and caps what this key can do.
export async function complete(question, user) {
  const r = await fetch(`${process.env.KEYWARD_URL}/v1/chat/completions`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${process.env.KEYWARD_CLIENT_KEY}`,
      "Content-Type": "application/json",
    },
    body: JSON.stringify({ model: "fast", user, messages: [{ role: "user", content: question }] }),
  });
  if (!r.ok) return "The assistant is unavailable.";
  const data = await r.json();
  return data.choices[0].message.content;
}
