// Reads a server secret, has no import "server-only", and a client module
// imports it.
export function groqHeaders() {
  return { authorization: `Bearer ${process.env.GROQ_API_KEY}` };
}
