"use client";
import { useState } from "react";
import Anthropic from "@anthropic-ai/sdk";

// Anthropic's SDK adds /v1/messages itself: its baseURL is keyward's URL.
export default function Claude() {
  const [text, setText] = useState("");

  async function summarize() {
    const { token, url } = await (await fetch("/api/keyward/token", { method: "POST" })).json();
    const claude = new Anthropic({ baseURL: url, apiKey: token, dangerouslyAllowBrowser: true });
    const m = await claude.messages.create({
      model: "smart",
      max_tokens: 200,
      messages: [{ role: "user", content: "Summarize keyward in one line." }],
    });
    setText(m.content[0]?.type === "text" ? m.content[0].text : "");
  }

  return <button onClick={summarize}>{text || "Summarize"}</button>;
}
