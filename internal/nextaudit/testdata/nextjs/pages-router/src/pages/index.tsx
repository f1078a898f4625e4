// A Pages Router page is bundled for the browser, and so is what it imports.
import { Summarize } from "@/components/Summarize";

export default function Home(): JSX.Element {
  return <Summarize text="Pages Router" />;
}
