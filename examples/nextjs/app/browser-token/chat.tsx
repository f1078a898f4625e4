"use client";

import { createBrowserKeyward } from "@keyward/next/browser";
import { ChatBox } from "@/components/ChatBox";

// Gets a token from the app's token route, refreshes it before it expires,
// and streams straight from keyward: the answer never passes through the
// app's server.
const keyward = createBrowserKeyward({ tokenUrl: "/api/keyward/token" });

async function send(prompt: string, onText: (text: string) => void) {
  await keyward.streamChat({
    model: "fast",
    messages: [{ role: "user", content: prompt }],
    onDelta: (_delta, text) => onText(text),
  });
}

export function Chat() {
  return <ChatBox send={send} />;
}
