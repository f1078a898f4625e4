// A Server Component: it renders the form and passes no secret down.
import AskForm from "@/app/ask-form";

export default function Page() {
  return (
    <main>
      <h1>Ask</h1>
      <AskForm />
    </main>
  );
}
