"use client";
// Everything a client module must not do.
import { useState } from "react";
import OpenAI from "openai";
import { groqHeaders } from "@/lib/ai";

export default function Chat({ apiKey }) {
  const [answer, setAnswer] = useState("");
  async function send() {
    const ai = new OpenAI({
      apiKey: process.env.NEXT_PUBLIC_OPENAI_API_KEY,
      dangerouslyAllowBrowser: true,
    });
    const r = await ai.chat.completions.create({ model: "gpt-4.1-mini", messages: [{ role: "user", content: "Hi" }] });
    const c = await fetch("https://api.anthropic.com/v1/messages", {
      method: "POST",
      headers: { "x-api-key": process.env.ANTHROPIC_API_KEY ?? apiKey, ...groqHeaders() },
    });
    setAnswer(r.choices[0].message.content + c.status);
  }
  return (
    <div>
      <button onClick={send}>Send</button>
      <p>{answer}</p>
    </div>
  );
}
