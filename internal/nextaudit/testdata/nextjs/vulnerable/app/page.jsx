// A Server Component that hands secrets to the browser three ways.
import Chat from "@/app/components/chat";
import { ask } from "./actions";

export default function Page() {
  const groq = process.env.GROQ_API_KEY;
  return (
    <main>
      <Chat apiKey={process.env.OPENAI_API_KEY} />
      <form action={ask.bind(null, process.env.ANTHROPIC_API_KEY)}>
        <input type="hidden" name="key" value={groq} />
        <button type="submit">Ask</button>
      </form>
    </main>
  );
}
