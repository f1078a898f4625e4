import Anthropic from "@anthropic-ai/sdk";
import { useState } from "react";

type Props = { text: string };

export function Summarize({ text }: Props) {
  const [out, setOut] = useState<string>("");
  const run = async () => {
    const claude = new Anthropic({ apiKey: process.env.NEXT_PUBLIC_ANTHROPIC_KEY });
    const m = await claude.messages.create({ model: "claude-sonnet-4-5", max_tokens: 200, messages: [{ role: "user", content: text }] });
    setOut(m.content.length > 0 ? "done" : "");
  };
  return <button onClick={run}>{out || "Summarize"}</button>;
}
