"use client";

// The mistake keyward scan exists for: a provider key in a NEXT_PUBLIC_
// variable, read by a client component, is inlined into the browser bundle.
import { useState } from "react";

export default function Chat() {
  const [answer, setAnswer] = useState("");
  async function ask() {
    const r = await fetch("https://api.groq.com/openai/v1/chat/completions", {
      method: "POST",
      headers: { Authorization: "Bearer " + process.env.NEXT_PUBLIC_GROQ_API_KEY, "Content-Type": "application/json" },
      body: JSON.stringify({ model: "llama-3.1-8b-instant", messages: [{ role: "user", content: "Hi" }] }),
    });
    setAnswer(JSON.stringify(await r.json()));
  }
  return (
    <main>
      <button onClick={ask}>Ask</button>
      <pre>{answer}</pre>
    </main>
  );
}
