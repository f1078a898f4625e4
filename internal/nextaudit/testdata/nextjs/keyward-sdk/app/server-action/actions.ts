"use server";
import OpenAI from "openai";
import { auth } from "@/lib/auth";

// Server code: the keyward server key never leaves the server, and keyward
// holds the provider keys.
export async function ask(_previous: string, formData: FormData): Promise<string> {
  const user = await auth();
  if (!user) return "Sign in first.";
  const ai = new OpenAI({ baseURL: process.env.KEYWARD_URL + "/v1", apiKey: process.env.KEYWARD_SERVER_KEY });
  const r = await ai.chat.completions.create(
    { model: "fast", messages: [{ role: "user", content: String(formData.get("question") ?? "") }] },
    { headers: { "X-Keyward-User": user.id } },
  );
  return r.choices[0]?.message.content ?? "";
}
