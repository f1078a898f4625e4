#!/usr/bin/env node
// npm run demo: keyward on the mock provider plus `next start` of this app.
//
// It needs only a keyward binary (KEYWARD_BIN, else `keyward` on PATH). On
// the first run it generates every secret it needs — keyward's config,
// pepper and signing key in .demo/, the app's keys and session secret in
// .env.local, all git-ignored — and prints none of them. It builds the app
// when there is no build yet. PORT (3000) and KEYWARD_PORT (8787) choose
// the ports; SIGINT or SIGTERM stops both.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
process.chdir(root);
const port = process.env.PORT || "3000";
const keywardPort = process.env.KEYWARD_PORT || "8787";
const bin = process.env.KEYWARD_BIN || "keyward";
const keywardURL = `http://127.0.0.1:${keywardPort}`;
const origin = `http://localhost:${port}`;
const next = path.join(root, "node_modules", ".bin", process.platform === "win32" ? "next.cmd" : "next");

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

const probe = spawnSync(bin, ["version"], { encoding: "utf8" });
if (probe.error) {
  fail(`no keyward binary: install keyward (npm i -D keyward, or go install) or set KEYWARD_BIN (${probe.error.code})`);
}
if (!existsSync(next)) fail("run npm ci first");

// First run: keyward's configuration and secrets, the app's keys.
if (!existsSync(".demo/keyward.yaml")) {
  const init = spawnSync(
    bin,
    ["init", "--nextjs", ".demo", "--provider", "mock", "--listen", `127.0.0.1:${keywardPort}`, "--origin", origin, "--env-file", ".env.local"],
    { encoding: "utf8" },
  );
  if (init.status !== 0) fail(`keyward init failed:\n${init.stderr}`);
  console.log("demo: generated keyward's configuration and secrets in .demo/, the app's keys in .env.local (both git-ignored)");
} else if (!readFileSync(".demo/keyward.yaml", "utf8").includes(`"${origin}"`)) {
  console.warn(`demo: .demo/keyward.yaml does not allow ${origin}; remove .demo/ and .env.local to start over with PORT=${port}`);
}
const envLocal = existsSync(".env.local") ? readFileSync(".env.local", "utf8") : "";
if (!/^SESSION_SECRET=/m.test(envLocal)) {
  appendFileSync(".env.local", `${envLocal === "" || envLocal.endsWith("\n") ? "" : "\n"}SESSION_SECRET=${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
}

if (!existsSync(".next/BUILD_ID")) {
  console.log("demo: building the app (next build)");
  const build = spawnSync(next, ["build"], { stdio: "inherit", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
  if (build.status !== 0) fail("next build failed");
}

const children = [];
let stopping = false;

function start(name, cmd, args, env) {
  const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...env } });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`demo: ${name} exited (${signal ?? code}); stopping`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

function stop(code) {
  stopping = true;
  let left = children.filter((c) => c.exitCode === null && c.signalCode === null);
  if (left.length === 0) process.exit(code);
  for (const c of left) {
    c.once("exit", () => {
      left = left.filter((x) => x !== c);
      if (left.length === 0) process.exit(code);
    });
    c.kill("SIGTERM");
  }
  setTimeout(() => {
    for (const c of left) c.kill("SIGKILL");
    process.exit(code);
  }, 10_000).unref();
}

process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

start("keyward", bin, ["serve", "--config", ".demo/keyward.yaml", "--listen", `127.0.0.1:${keywardPort}`]);
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${keywardURL}/healthz`)).ok) break;
  } catch {
    // not up yet
  }
  if (i === 100) {
    console.error("demo: keyward did not come up");
    stop(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}
start("next", next, ["start", "-p", port], { KEYWARD_URL: keywardURL, KEYWARD_PUBLIC_URL: keywardURL, NEXT_TELEMETRY_DISABLED: "1" });
console.log(`demo: open ${origin} (keyward at ${keywardURL}); Ctrl-C stops both`);
