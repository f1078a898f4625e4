import AskForm from "./ask-form";

export default function ServerActionPage() {
  return (
    <main>
      <h1>Ask</h1>
      <AskForm />
    </main>
  );
}
