"use client";

import { useState, type FormEvent } from "react";

/** An error a page shows: keyward's code, and a message for people. */
export class ChatError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The code of anything thrown: keyward's, the app's, or "error". */
function codeOf(err: unknown): string {
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string" && err.code) return err.code;
  return "error";
}

/**
 * ChatBox is the same small UI on every page: a prompt, a send button, the
 * answer as it streams, and the error code when keyward (or the app)
 * refuses. send streams the answer's text through onText.
 */
export function ChatBox({ send }: { send: (prompt: string, onText: (text: string) => void) => Promise<void> }) {
  const [prompt, setPrompt] = useState("");
  const [answer, setAnswer] = useState("");
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setAnswer("");
    setError(null);
    try {
      await send(prompt, setAnswer);
    } catch (err) {
      setError({ code: codeOf(err), message: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} style={{ display: "grid", gap: "0.75rem" }}>
      <input
        data-testid="prompt"
        value={prompt}
        onChange={(e) => setPrompt(e.target.value)}
        placeholder="Ask something"
        maxLength={4000}
      />
      <button data-testid="send" type="submit" disabled={busy || prompt.trim() === ""}>
        {busy ? "…" : "Send"}
      </button>
      <output data-testid="answer" style={{ whiteSpace: "pre-wrap", minHeight: "3rem" }}>
        {answer}
      </output>
      <p data-testid="error" role="alert" style={{ color: "crimson", minHeight: "1.5rem" }}>
        {error ? `${error.code}: ${error.message}` : ""}
      </p>
    </form>
  );
}
