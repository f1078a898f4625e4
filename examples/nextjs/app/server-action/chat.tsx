"use client";

import { ChatBox, ChatError } from "@/components/ChatBox";
import { ask } from "./actions";

async function send(prompt: string, onText: (text: string) => void) {
  const reader = (await ask(prompt)).getReader();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    if ("error" in value) throw new ChatError(value.error.code, value.error.message);
    text += value.text;
    onText(text);
  }
}

export function Chat() {
  return <ChatBox send={send} />;
}
