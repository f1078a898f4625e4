"use server";

import { KeywardError } from "@keyward/next";
import { kw } from "@/lib/keyward";
import { currentUser } from "@/lib/session";

/** One piece of the streamed answer: text, or the error that ended it. */
export type Piece = { text: string } | { error: { code: string; message: string } };

function refusal(err: unknown): Piece {
  // keyward's errors carry a stable code; the SDK's APIError carries it too.
  if (err instanceof KeywardError) return { error: { code: err.code, message: err.message } };
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string") {
    return { error: { code: err.code, message: "keyward refused the request." } };
  }
  return { error: { code: "error", message: "The answer could not be produced." } };
}

/**
 * ask answers a prompt as the signed-in user: keyward applies that user's
 * plan, rate limits and spend cap (X-Keyward-User, sent by forUser). The
 * answer streams back as it is generated.
 */
export async function ask(prompt: string): Promise<ReadableStream<Piece>> {
  const user = await currentUser();
  return new ReadableStream<Piece>({
    async start(out) {
      try {
        if (!user) {
          out.enqueue({ error: { code: "unauthorized", message: "Sign in first." } });
          return;
        }
        if (typeof prompt !== "string" || prompt.trim() === "" || prompt.length > 4000) {
          out.enqueue({ error: { code: "invalid_request", message: "The prompt must be 1 to 4000 characters." } });
          return;
        }
        const ai = await kw.forUser(user).openai();
        const stream = await ai.chat.completions.create({
          model: "fast",
          stream: true,
          messages: [{ role: "user", content: prompt }],
        });
        for await (const chunk of stream) {
          const text = chunk.choices[0]?.delta?.content;
          if (text) out.enqueue({ text });
        }
      } catch (err) {
        out.enqueue(refusal(err));
      } finally {
        out.close();
      }
    },
  });
}
