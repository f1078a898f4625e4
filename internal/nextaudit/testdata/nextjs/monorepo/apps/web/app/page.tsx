import { Assistant } from "@/app/components/assistant";
import { Button } from "@acme/ui";

export default function Page() {
  return (
    <main>
      <Assistant />
      <Button label="Docs" />
    </main>
  );
}
