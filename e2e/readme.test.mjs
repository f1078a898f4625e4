// Every TypeScript snippet in the README's Next.js section is code the
// example app runs (and the e2e test drives): each appears, line for line
// (indentation aside), in a file of examples/nextjs.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const example = path.join(repo, "examples", "nextjs");

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (["node_modules", ".next", ".demo"].includes(name)) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|tsx|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

const lines = (s) => s.split("\n").map((l) => l.trim()).filter((l) => l !== "");

test("the README's Next.js snippets are the example's code", () => {
  const readme = readFileSync(path.join(repo, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Next.js\n"), readme.indexOf("\n## Configuration reference\n"));
  const snippets = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => lines(m[1]));
  assert.ok(snippets.length >= 5, `found ${snippets.length} snippets`);
  const sources = files(example).map((f) => ({ f, l: lines(readFileSync(f, "utf8")) }));
  for (const snip of snippets) {
    const found = sources.some(({ l }) => l.some((_, i) => snip.every((s, k) => l[i + k] === s)));
    assert.ok(found, `not in examples/nextjs:\n${snip.join("\n")}`);
  }
});
