"use client";
// The provider SDK arrives through a workspace package.
import { suggest } from "@acme/ai";

export function Assistant() {
  return <button onClick={() => suggest("hello")}>Suggest</button>;
}
