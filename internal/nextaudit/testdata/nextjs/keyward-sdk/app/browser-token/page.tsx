"use client";
// The browser calls keyward directly with a short-lived token from the
// app's token route: the SDK holds that token, never a provider key.
import { useState } from "react";
import OpenAI from "openai";
import Claude from "./claude";
import HelperChat from "./helper-chat";

async function browserToken(): Promise<{ token: string; url: string }> {
  const r = await fetch("/api/keyward/token", { method: "POST" });
  if (!r.ok) throw new Error("Sign in first.");
  return r.json();
}

export default function BrowserTokenPage() {
  const [answer, setAnswer] = useState("");

  async function ask(formData: FormData) {
    const { token, url } = await browserToken();
    const ai = new OpenAI({ baseURL: `${url}/v1`, apiKey: token, dangerouslyAllowBrowser: true });
    const r = await ai.chat.completions.create({
      model: "fast",
      messages: [{ role: "user", content: String(formData.get("question") ?? "") }],
    });
    setAnswer(r.choices[0]?.message.content ?? "");
  }

  return (
    <main>
      <form action={ask}>
        <input name="question" />
        <button type="submit">Ask</button>
      </form>
      <p>{answer}</p>
      <Claude />
      <HelperChat />
    </main>
  );
}
