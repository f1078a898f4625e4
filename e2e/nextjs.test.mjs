// End-to-end: the Next.js example (examples/nextjs) and keyward, as a user
// drives them, in real Chromium. `npm run demo` starts keyward on the mock
// provider and `next start`; every page sends a prompt and shows the streamed
// answer; every response body and script the pages load is searched for any
// piece of a secret; an expired and a tampered token give a clear error; a
// second user's rate limit leaves the first alone. Screenshots go to
// E2E_OUT (default e2e/output).
//
// Needs: a keyward binary (KEYWARD_BIN or PATH), `npm ci` done in
// clients/ts (built) and examples/nextjs, Chromium at CHROMIUM
// (default /usr/bin/chromium).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const example = path.resolve(here, "../examples/nextjs");
const out = path.resolve(process.env.E2E_OUT || path.join(here, "output"));
const port = process.env.PORT || "3000";
const keywardPort = process.env.KEYWARD_PORT || "8787";
const app = `http://localhost:${port}`;
const keywardURL = `http://127.0.0.1:${keywardPort}`;
const run = randomBytes(3).toString("hex"); // users of this run only
const mockAnswer = "This is a mock response from keyward";

let demo;
let demoLog = "";
let browser;
/** Every response body the pages received, and where from. */
const seen = [];
/** Errors thrown in the pages: there must be none. */
const pageErrors = [];

function dotenv(file) {
  const vars = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

async function waitFor(what, fn, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- demo output ---\n${demoLog.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  mkdirSync(out, { recursive: true });
  demo = spawn("npm", ["run", "demo"], {
    cwd: example,
    env: { ...process.env, PORT: port, KEYWARD_PORT: keywardPort },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  demo.stdout.on("data", (b) => (demoLog += b));
  demo.stderr.on("data", (b) => (demoLog += b));
  await waitFor("the demo", async () => (await fetch(`${app}/`)).ok && (await fetch(`${keywardURL}/healthz`)).ok, 240_000);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null) {
    const exited = new Promise((r) => demo.once("exit", r));
    process.kill(-demo.pid, "SIGTERM"); // the demo stops keyward and next on SIGTERM
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (demo.exitCode === null) process.kill(-demo.pid, "SIGKILL");
  }
});

/** A signed-in browser context of a user whose every response is recorded. */
async function signedIn(user) {
  const context = await browser.newContext();
  context.on("response", async (res) => {
    try {
      seen.push({ url: res.url(), body: (await res.body()).toString("latin1") });
    } catch {
      // a redirect or an aborted request has no body
    }
  });
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${user}: ${err.message}`));
  await page.goto(`${app}/`);
  await page.getByTestId("user").fill(user);
  await page.getByTestId("sign-in").click();
  await page.getByTestId("whoami").filter({ hasText: `signed in as ${user}` }).waitFor();
  return { context, page };
}

/** Sends a prompt on the current page and waits for an answer or an error. */
async function send(page, prompt) {
  await page.getByTestId("prompt").fill(prompt);
  await page.getByTestId("send").click();
  await page.waitForFunction(
    () => {
      const a = document.querySelector('[data-testid="answer"]')?.textContent ?? "";
      const e = document.querySelector('[data-testid="error"]')?.textContent ?? "";
      const busy = document.querySelector('[data-testid="send"]')?.hasAttribute("disabled");
      return !busy && (a.includes("keyward") || e !== "");
    },
    null,
    { timeout: 30_000 },
  );
  return {
    answer: (await page.getByTestId("answer").textContent()) ?? "",
    error: (await page.getByTestId("error").textContent()) ?? "",
  };
}

const pages = ["/server-action", "/browser-token", "/route-handler"];

test("the home page links to all three pages", async () => {
  const { context, page } = await signedIn(`home-${run}`);
  await page.goto(`${app}/`);
  for (const p of pages) {
    assert.equal(await page.locator(`a[href="${p}"]`).count(), 1, `a link to ${p}`);
  }
  await context.close();
});

test("each page streams an answer through keyward", async () => {
  const { context, page } = await signedIn(`alice-${run}`);
  for (const p of pages) {
    await page.goto(`${app}${p}`);
    const r = await send(page, `Hello from ${p}`);
    assert.equal(r.error, "", `${p}: error ${r.error}`);
    assert.ok(r.answer.includes(mockAnswer), `${p}: answer ${JSON.stringify(r.answer)}`);
    await page.screenshot({ path: path.join(out, `${p.slice(1)}.png`), fullPage: true });
  }
  await context.close();
});

/** A token minted straight from keyward with the example's mint key. */
async function mint(user, ttl) {
  const env = dotenv(path.join(example, ".env.local"));
  const res = await fetch(`${keywardURL}/v1/tokens`, {
    method: "POST",
    headers: { Authorization: `Bearer ${env.KEYWARD_MINT_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ user, ttl_seconds: ttl, origin: app, models: ["fast"], plan: "free" }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).token;
}

test("an expired or tampered token is a clear error, not a crash", async () => {
  const user = `carol-${run}`;
  const expired = await mint(user, 1);
  const good = await mint(user, 300);
  const i = good.lastIndexOf(".") + 10;
  const tampered = good.slice(0, i) + (good[i] === "A" ? "B" : "A") + good.slice(i + 1);
  await new Promise((r) => setTimeout(r, 6500)); // past the token's life and keyward's 5 s of leeway
  for (const [name, token] of [
    ["expired", expired],
    ["tampered", tampered],
  ]) {
    const { context, page } = await signedIn(`${user}-${name}`);
    // The app's token route hands out the bad token (and claims it is
    // fresh, so the page does not simply fetch another).
    await page.route("**/api/keyward/token", (route) =>
      route.fulfill({
        status: 200,
        contentType: "application/json",
        headers: { "Cache-Control": "no-store" },
        body: JSON.stringify({ token, url: keywardURL, expires_at: new Date(Date.now() + 600_000).toISOString(), models: ["fast"], max_output_tokens: 1024 }),
      }),
    );
    await page.goto(`${app}/browser-token`);
    const r = await send(page, "Does this work?");
    assert.match(r.error, /^unauthorized: /, `${name} token: ${JSON.stringify(r)}`);
    assert.ok(!r.answer.includes(mockAnswer), `${name} token got an answer`);
    // The page still works: the box is there for the next try.
    assert.equal(await page.getByTestId("prompt").count(), 1);
    await page.screenshot({ path: path.join(out, `browser-token-${name}.png`), fullPage: true });
    await context.close();
  }
});

test("a user's rate limit is theirs alone", async () => {
  const bob = await signedIn(`bob-${run}`);
  const alice = await signedIn(`dave-${run}`);
  // Bob spends his limit through the Server Action: the server names him
  // (X-Keyward-User). (Browser-token requests also count per client
  // address, which every user of this test shares.)
  await bob.page.goto(`${app}/server-action`);
  let refused = "";
  for (let i = 0; i < 40 && !refused; i++) {
    const r = await send(bob.page, `request ${i}`);
    if (r.error) refused = r.error;
  }
  assert.match(refused, /^rate_limited_requests: /, "bob was never rate limited");
  await bob.page.screenshot({ path: path.join(out, "server-action-rate-limited.png"), fullPage: true });
  for (const p of pages) {
    await alice.page.goto(`${app}${p}`);
    const r = await send(alice.page, "Am I still served?");
    assert.equal(r.error, "", `${p}: another user was limited by bob: ${r.error}`);
    assert.ok(r.answer.includes(mockAnswer));
  }
  await bob.context.close();
  await alice.context.close();
});

test("no secret reaches the browser, whole or in pieces", () => {
  const env = dotenv(path.join(example, ".env.local"));
  const keyward = path.join(example, ".demo", ".keyward");
  const signing = readFileSync(path.join(keyward, "signing.pem"), "utf8");
  const secrets = {
    "the server key": env.KEYWARD_SERVER_KEY,
    "the mint key": env.KEYWARD_MINT_KEY,
    "the session secret": env.SESSION_SECRET,
    "the pepper": readFileSync(path.join(keyward, "pepper"), "utf8").trim(),
    "the provider key": readFileSync(path.join(keyward, "provider-key"), "utf8").trim(),
    "the signing key": signing.split("\n").filter((l) => l && !l.startsWith("-----")).join(""),
  };
  const piece = 24;
  const scripts = seen.filter((s) => /\.js(\?|$)/.test(s.url)).length;
  assert.ok(seen.length > 20 && scripts > 3, `recorded ${seen.length} responses, ${scripts} scripts`);
  for (const [what, value] of Object.entries(secrets)) {
    assert.ok(value && value.length >= piece, `${what} was not found on disk`);
    for (let i = 0; i + piece <= value.length; i++) {
      const part = value.slice(i, i + piece);
      for (const s of seen) {
        assert.ok(!s.body.includes(part), `a piece of ${what} is in ${s.url}`);
      }
    }
  }
  console.log(`checked ${seen.length} responses (${scripts} scripts) for every 24-character piece of ${Object.keys(secrets).length} secrets`);
});

test("no page threw", () => {
  assert.deepEqual(pageErrors, []);
});
