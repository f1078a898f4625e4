"use client";

import { ChatBox, ChatError } from "@/components/ChatBox";

async function send(prompt: string, onText: (text: string) => void) {
  const res = await fetch("/api/chat", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prompt }),
  });
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    throw new ChatError(body?.error?.code ?? `http_${res.status}`, body?.error?.message ?? res.statusText);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    text += value;
    onText(text);
  }
}

export function Chat() {
  return <ChatBox send={send} />;
}
