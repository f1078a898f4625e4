// The browser entry against a fake keyward that also serves the app's token
// route. Run without the react-server condition, as a browser bundle is.

import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { describe, test, type TestContext } from "node:test";

import { createBrowserKeyward, KeywardError, type BrowserKeywardOptions } from "../../src/browser.js";
import { FakeKeyward, type Received } from "../support/fakekeyward.js";

interface Setup {
  fake: FakeKeyward;
  /** Requests to the token route so far. */
  tokenCalls: () => number;
  /** The fake's and the browser's clock. */
  clock: { now: number };
}

/**
 * setup starts a fake keyward serving POST /api/keyward/token as tokenRoute
 * does: a token for "alice", bound to the app's origin.
 */
async function setup(t: TestContext, o: { ttlSeconds?: number; delayMs?: number; expiresIn?: boolean } = {}): Promise<Setup> {
  const fake = await FakeKeyward.start();
  t.after(() => fake.close());
  const clock = { now: Date.parse("2026-01-01T00:00:00Z") };
  fake.now = () => clock.now;
  const ttl = o.ttlSeconds ?? 300;
  fake.overrides.set("POST /api/keyward/token", async (r: Received, res: ServerResponse) => {
    assert.equal(r.method, "POST");
    if (o.delayMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, o.delayMs));
    }
    const minted = fake.mint("alice", "https://app.example.com", ["fast"], ttl);
    fake.json(res, 200, {
      token: minted.token,
      expires_at: new Date(minted.expiresAt).toISOString(),
      ...(o.expiresIn !== false && { expires_in: ttl }),
      url: `${fake.url}/`,
      models: ["fast"],
      max_output_tokens: 1024,
    });
  });
  return { fake, clock, tokenCalls: () => fake.requests("/api/keyward/token").length };
}

function browser(s: Setup, extra: BrowserKeywardOptions = {}) {
  return createBrowserKeyward({ tokenUrl: `${s.fake.url}/api/keyward/token`, now: () => s.clock.now, ...extra });
}

const hi = [{ role: "user" as const, content: "Hi" }];

describe("getToken", () => {
  test("fetches once and caches", async (t) => {
    const s = await setup(t);
    const kw = browser(s);
    const a = await kw.getToken();
    const b = await kw.getToken();
    assert.equal(s.tokenCalls(), 1);
    assert.equal(a.token, b.token);
    assert.equal(a.url, s.fake.url, "the trailing slash is dropped");
    assert.deepEqual(a.models, ["fast"]);
    assert.equal(a.maxOutputTokens, 1024);
    assert.equal(a.expiresAt.getTime(), s.clock.now + 300_000);
  });

  test("refreshes refreshMarginSeconds before expiry", async (t) => {
    const s = await setup(t);
    const kw = browser(s, { refreshMarginSeconds: 30 });
    const first = await kw.getToken();
    s.clock.now += 269_000;
    assert.equal((await kw.getToken()).token, first.token);
    assert.equal(s.tokenCalls(), 1);
    s.clock.now += 2_000; // 29 s left: inside the margin
    const second = await kw.getToken();
    assert.notEqual(second.token, first.token);
    assert.equal(s.tokenCalls(), 2);
  });

  test("the margin is at most half the lifetime", async (t) => {
    const s = await setup(t, { ttlSeconds: 20 });
    const kw = browser(s, { refreshMarginSeconds: 30 });
    await kw.getToken();
    s.clock.now += 9_000;
    await kw.getToken();
    assert.equal(s.tokenCalls(), 1);
    s.clock.now += 2_000;
    await kw.getToken();
    assert.equal(s.tokenCalls(), 2);
  });

  test("without expires_in, the lifetime comes from expires_at", async (t) => {
    const s = await setup(t, { expiresIn: false });
    const kw = browser(s);
    await kw.getToken();
    s.clock.now += 260_000;
    await kw.getToken();
    assert.equal(s.tokenCalls(), 1);
    s.clock.now += 15_000;
    await kw.getToken();
    assert.equal(s.tokenCalls(), 2);
  });

  test("concurrent callers share one request", async (t) => {
    const s = await setup(t, { delayMs: 50 });
    const kw = browser(s);
    const tokens = await Promise.all(Array.from({ length: 8 }, () => kw.getToken()));
    assert.equal(s.tokenCalls(), 1);
    assert.equal(new Set(tokens.map((x) => x.token)).size, 1);
    // And again when it is time to refresh.
    s.clock.now += 290_000;
    const again = await Promise.all(Array.from({ length: 8 }, () => kw.getToken()));
    assert.equal(s.tokenCalls(), 2);
    assert.equal(new Set(again.map((x) => x.token)).size, 1);
  });

  test("forceRefresh gets a new token", async (t) => {
    const s = await setup(t);
    const kw = browser(s);
    const a = await kw.getToken();
    const b = await kw.getToken({ forceRefresh: true });
    assert.notEqual(a.token, b.token);
    assert.equal(s.tokenCalls(), 2);
  });

  test("POSTs same-origin, with credentials", async (t) => {
    const s = await setup(t);
    const seen: RequestInit[] = [];
    const kw = browser(s, {
      fetch: (input, init) => {
        seen.push(init ?? {});
        return fetch(input, init);
      },
    });
    await kw.getToken();
    assert.equal(seen[0]?.method, "POST");
    assert.equal(seen[0]?.credentials, "same-origin");
  });

  test("the token route's error is a KeywardError, and is not cached", async (t) => {
    const s = await setup(t);
    const route = s.fake.overrides.get("POST /api/keyward/token");
    s.fake.overrides.set("POST /api/keyward/token", (_r, res) => s.fake.fail(res, "openai", "unauthorized", "Sign in to get an AI token."));
    const kw = browser(s);
    await assert.rejects(kw.getToken(), (e: unknown) => {
      assert.ok(e instanceof KeywardError);
      assert.equal(e.status, 401);
      assert.equal(e.code, "unauthorized");
      assert.equal(e.message, "Sign in to get an AI token.");
      assert.equal(e.requestId, "req_1");
      return true;
    });
    s.fake.overrides.set("POST /api/keyward/token", route!);
    assert.ok((await kw.getToken()).token);
  });

  test("a token route answer without a token is refused", async (t) => {
    const s = await setup(t);
    s.fake.overrides.set("POST /api/keyward/token", (_r, res) => s.fake.json(res, 200, { url: s.fake.url }));
    await assert.rejects(browser(s).getToken(), { name: "KeywardError", code: "internal_error" });
  });
});

describe("streamChat", () => {
  test("streams the deltas and returns the text", async (t) => {
    const s = await setup(t);
    const kw = browser(s);
    const deltas: Array<[string, string]> = [];
    const text = await kw.streamChat({ model: "fast", messages: hi, maxTokens: 64, onDelta: (d, so) => deltas.push([d, so]) });
    assert.equal(text, "Hello, world!");
    assert.deepEqual(deltas, [
      ["Hello", "Hello"],
      [", ", "Hello, "],
      ["world", "Hello, world"],
      ["!", "Hello, world!"],
    ]);
    const [req] = s.fake.requests("/v1/chat/completions");
    const token = (await kw.getToken()).token;
    assert.equal(req?.headers["authorization"], `Bearer ${token}`);
    assert.deepEqual(JSON.parse(req?.body ?? ""), { model: "fast", messages: hi, stream: true, max_tokens: 64 });
  });

  test("events split across writes at every boundary", async (t) => {
    const s = await setup(t);
    s.fake.overrides.set("POST /v1/chat/completions", async (_r, res) => {
      const stream =
        ": keep-alive\r\n\r\n" +
        'data: {"choices":[{"index":0,"delta":{"content":"héllo "},"finish_reason":null}]}\r\n\r\n' +
        'data: {"choices":[{"index":0,\ndata: "delta":{"content":"wörld"},"finish_reason":null}]}\n\n' +
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\r\r' +
        "data: [DONE]\n\n";
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      const bytes = Buffer.from(stream);
      for (let i = 0; i < bytes.length; i += 3) {
        res.write(bytes.subarray(i, i + 3));
        await new Promise((resolve) => setImmediate(resolve));
      }
      res.end();
    });
    assert.equal(await browser(s).streamChat({ model: "fast", messages: hi }), "héllo wörld");
  });

  test("an error event mid-stream is a KeywardError with its code", async (t) => {
    const s = await setup(t);
    const deltas: string[] = [];
    await assert.rejects(
      browser(s).streamChat({ model: "fast", messages: [{ role: "user", content: "[[mock:break=2]]" }], onDelta: (d) => deltas.push(d) }),
      (e: unknown) => {
        assert.ok(e instanceof KeywardError);
        assert.equal(e.code, "upstream_error");
        assert.equal(e.status, 502);
        assert.match(e.requestId ?? "", /^req_\d+$/);
        return true;
      },
    );
    assert.deepEqual(deltas, ["Hello", ", "]);
    assert.equal(s.fake.requests("/v1/chat/completions").length, 1, "no retry after text was streamed");
  });

  test("429 is a KeywardError with keyward's code", async (t) => {
    const s = await setup(t);
    await assert.rejects(browser(s).streamChat({ model: "fast", messages: [{ role: "user", content: "[[mock:status=429]]" }] }), {
      name: "KeywardError",
      status: 429,
      code: "rate_limited_requests",
    });
  });

  test("a stream that stops before it is complete is an error", async (t) => {
    const s = await setup(t);
    s.fake.overrides.set("POST /v1/chat/completions", (_r, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.end('data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n');
    });
    await assert.rejects(browser(s).streamChat({ model: "fast", messages: hi }), { name: "KeywardError", code: "upstream_error" });
  });

  test("a 401 gets a fresh token and one retry", async (t) => {
    const s = await setup(t);
    const kw = browser(s);
    const stale = await kw.getToken();
    s.fake.tokens.delete(stale.token); // keyward no longer accepts it, though it has not expired
    assert.equal(await kw.streamChat({ model: "fast", messages: hi }), "Hello, world!");
    const auths = s.fake.requests("/v1/chat/completions").map((r) => r.headers["authorization"]);
    assert.equal(auths.length, 2);
    assert.equal(auths[0], `Bearer ${stale.token}`);
    assert.notEqual(auths[1], auths[0]);
    assert.equal(s.tokenCalls(), 2);
  });

  test("a second 401 is thrown", async (t) => {
    const s = await setup(t);
    s.fake.overrides.set("POST /v1/chat/completions", (_r, res) => s.fake.fail(res, "openai", "unauthorized"));
    await assert.rejects(browser(s).streamChat({ model: "fast", messages: hi }), { name: "KeywardError", status: 401, code: "unauthorized" });
    assert.equal(s.fake.requests("/v1/chat/completions").length, 2);
  });

  test("abort stops the stream", async (t) => {
    const s = await setup(t);
    s.fake.overrides.set("POST /v1/chat/completions", (_r, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n');
      // and never ends
    });
    const ac = new AbortController();
    await assert.rejects(
      browser(s).streamChat({ model: "fast", messages: hi, signal: ac.signal, onDelta: () => ac.abort() }),
      (e: unknown) => e instanceof Error && e.name === "AbortError",
    );
  });
});

describe("openai()", () => {
  test("a browser OpenAI client carrying the current token", async (t) => {
    const s = await setup(t);
    const kw = browser(s);
    const ai = await kw.openai();
    assert.equal(ai.baseURL, `${s.fake.url}/v1`);
    const r = await ai.chat.completions.create({ model: "fast", messages: hi });
    assert.equal(r.choices[0]?.message.content, "Hello, world!");
    const first = (await kw.getToken()).token;
    const fresh = (await kw.getToken({ forceRefresh: true })).token;
    await ai.chat.completions.create({ model: "fast", messages: hi });
    assert.equal(await kw.openai(), ai, "one client");
    assert.deepEqual(
      s.fake.requests("/v1/chat/completions").map((x) => x.headers["authorization"]),
      [`Bearer ${first}`, `Bearer ${fresh}`],
    );
  });

  test("a 401 gets a fresh token and one retry", async (t) => {
    const s = await setup(t);
    const kw = browser(s);
    const ai = (await kw.openai()).withOptions({ maxRetries: 0 });
    s.fake.tokens.delete((await kw.getToken()).token);
    const r = await ai.chat.completions.create({ model: "fast", messages: hi });
    assert.equal(r.choices[0]?.message.content, "Hello, world!");
    assert.equal(s.fake.requests("/v1/chat/completions").length, 2);
    assert.equal(s.tokenCalls(), 2);
  });
});
