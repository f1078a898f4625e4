// The package's two entries: what they import, and what they export.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

interface Exports {
  [entry: string]: { types?: string; default?: string } | string;
}

test("package.json exports . and ./browser, each with types", () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Exports; dependencies: Record<string, string> };
  for (const entry of [".", "./browser"]) {
    const e = pkg.exports[entry];
    assert.ok(typeof e === "object", `exports["${entry}"]`);
    for (const file of [e.types, e.default]) {
      assert.ok(file !== undefined && existsSync(join(root, file)), `${entry}: ${file} is built`);
    }
  }
  assert.deepEqual(Object.keys(pkg.dependencies), ["server-only"], "no runtime dependency but server-only");
});

test("the package is not declared free of side effects", () => {
  // With "sideEffects": false, bundlers skip index.js's bare
  // import "server-only" when they follow the re-exports, and a Client
  // Component could import the server entry without failing the build.
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { sideEffects?: unknown };
  assert.equal(pkg.sideEffects, undefined);
});

test("the server entry starts with import \"server-only\"", () => {
  const src = readFileSync(join(root, "src/index.ts"), "utf8");
  assert.match(src, /^import "server-only";\n/);
});

test("the server entry refuses to load outside react-server", async () => {
  const entry = join(root, "dist/src/index.js");
  await assert.rejects(run(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(entry)})`]), (e: unknown) => {
    assert.match(String((e as { stderr?: string }).stderr), /server-only|Server Component/i);
    return true;
  });
  const ok = await run(process.execPath, [
    "--conditions=react-server",
    "--input-type=module",
    "-e",
    `const m = await import(${JSON.stringify(entry)}); console.log(Object.keys(m).sort().join(","))`,
  ]);
  assert.equal(ok.stdout.trim(), "KeywardConfigError,KeywardError,createKeyward,mintBrowserToken,protect,scrubError,tokenRoute");
});

test("the browser entry loads without react-server, exports scrubError", async () => {
  const entry = join(root, "dist/src/browser.js");
  const ok = await run(process.execPath, [
    "--input-type=module",
    "-e",
    `const m = await import(${JSON.stringify(entry)}); console.log(Object.keys(m).sort().join(","))`,
  ]);
  assert.equal(ok.stdout.trim(), "KeywardConfigError,KeywardError,createBrowserKeyward,scrubError");
});

/** moduleGraph returns the compiled files a module imports, itself included, following relative imports. */
function moduleGraph(file: string, seen = new Map<string, string>()): Map<string, string> {
  if (seen.has(file)) {
    return seen;
  }
  const code = readFileSync(file, "utf8");
  seen.set(file, code);
  for (const m of code.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
    const spec = m[1] ?? "";
    if (spec.startsWith(".")) {
      moduleGraph(resolve(dirname(file), spec), seen);
    }
  }
  return seen;
}

/** code drops comments, roughly: what is left is what runs. */
function code(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
}

test("the browser entry's module graph never reads process.env nor imports server-only", () => {
  const graph = moduleGraph(join(root, "dist/src/browser.js"));
  assert.ok(graph.size >= 4, `graph: ${[...graph.keys()].join(", ")}`);
  for (const [file, src] of graph) {
    const c = code(src);
    assert.doesNotMatch(c, /\bprocess\b/, `${file} mentions process`);
    assert.doesNotMatch(c, /server-only/, `${file} imports server-only`);
    assert.doesNotMatch(c, /["']\.\/(index|server)\.js["']/, `${file} imports the server entry`);
  }
});
