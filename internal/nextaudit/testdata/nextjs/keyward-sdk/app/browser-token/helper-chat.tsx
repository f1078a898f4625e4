"use client";
import { useState } from "react";
import { createBrowserKeyward } from "@keyward/next/browser";

// The helper fetches, caches and refreshes the token itself.
const kw = createBrowserKeyward();

export default function HelperChat() {
  const [text, setText] = useState("");

  async function stream() {
    await kw.streamChat({
      model: "fast",
      messages: [{ role: "user", content: "Say hello." }],
      onDelta: (_delta, soFar) => setText(soFar),
    });
  }

  return <button onClick={stream}>{text || "Stream"}</button>;
}
