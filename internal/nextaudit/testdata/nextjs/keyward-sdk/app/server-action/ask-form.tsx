"use client";
import { useActionState } from "react";
import { ask } from "./actions";

export default function AskForm() {
  const [answer, action, pending] = useActionState(ask, "");
  return (
    <form action={action}>
      <input name="question" />
      <button type="submit" disabled={pending}>Ask</button>
      <p>{answer}</p>
    </form>
  );
}
