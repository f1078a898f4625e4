import { KeywardError } from "@keyward/next";
import { kw } from "@/lib/keyward";
import { userOfRequest } from "@/lib/session";

const noStore = { "Cache-Control": "no-store" };

function refuse(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  return Response.json({ error: { code, message } }, { status, headers: { ...noStore, ...headers } });
}

/**
 * POST /api/chat {prompt}: the app's own API route. It checks the session,
 * asks keyward whether this user may go on (protect: the user's plan and
 * limits, fail-closed), validates the input, and streams the answer as
 * plain text.
 */
export async function POST(req: Request): Promise<Response> {
  const user = userOfRequest(req);
  if (!user) return refuse(401, "unauthorized", "Sign in first.");

  const me = kw.forUser(user);
  const decision = await me.protect(req, { dryRun: true }); // the call below takes the request
  if (!decision.success) {
    const retry = decision.reset > 0 ? Math.max(1, Math.ceil((decision.reset - Date.now()) / 1000)) : 1;
    return refuse(decision.reason === "unavailable" ? 503 : 429, decision.reason, "Not now: this user may not go on yet.", {
      "Retry-After": String(retry),
    });
  }

  let prompt: unknown;
  try {
    prompt = ((await req.json()) as { prompt?: unknown } | null)?.prompt;
  } catch {
    return refuse(400, "invalid_request", "The body must be JSON: {\"prompt\": \"…\"}.");
  }
  if (typeof prompt !== "string" || prompt.trim() === "" || prompt.length > 4000) {
    return refuse(400, "invalid_request", "\"prompt\" must be 1 to 4000 characters.");
  }

  let stream;
  try {
    const ai = await me.openai();
    stream = await ai.chat.completions.create({ model: "fast", stream: true, messages: [{ role: "user", content: prompt }] });
  } catch (err) {
    if (err instanceof KeywardError) return refuse(err.status, err.code, err.message);
    const e = err as { status?: number; code?: string };
    return refuse(typeof e.status === "number" ? e.status : 502, typeof e.code === "string" ? e.code : "upstream_error", "keyward refused the request.");
  }
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(out) {
      try {
        for await (const chunk of stream) {
          const text = chunk.choices[0]?.delta?.content;
          if (text) out.enqueue(encoder.encode(text));
        }
      } catch {
        // The stream broke after it started: end it; the client sees a cut answer.
      } finally {
        out.close();
      }
    },
  });
  return new Response(body, { headers: { ...noStore, "Content-Type": "text/plain; charset=utf-8" } });
}
