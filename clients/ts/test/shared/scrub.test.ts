// scrubError over every key shape, in the places they turn up, and over
// the odd values an error reporter hands it. Every key is built at run
// time (support/keys.ts): this file holds no key-shaped literal.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { KeywardError, scrubError } from "../../src/browser.js";
import { base62, fakeAnthropicKey, fakeKeywardKey, fakeOpenAIKey, hexLower, join, lowerNum, randomString, upperNum, urlSafe } from "../support/keys.js";

const R = "[REDACTED]";

function jwt(): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return [enc({ alg: "EdDSA", typ: "JWT" }), enc({ iss: "keyward", sub: "alice", exp: 1_900_000_000 }), randomString(urlSafe, 86)].join(".");
}

/** The key shapes: name → a fresh fake key. */
const shapes: Array<[string, () => string]> = [
  ["keyward live key", () => fakeKeywardKey("live")],
  ["keyward test key", () => fakeKeywardKey("test")],
  ["keyward browser token (JWT)", jwt],
  ["OpenAI project key", fakeOpenAIKey],
  ["OpenAI legacy key", () => join("sk-", randomString(base62, 20), "T3Blbk", "FJ", randomString(base62, 20))],
  ["OpenAI service account key", () => join("sk-", "svcacct-", randomString(urlSafe, 40))],
  ["OpenAI admin key", () => join("sk-", "admin-", randomString(urlSafe, 40))],
  ["Anthropic API key", fakeAnthropicKey],
  ["Anthropic admin key", () => join("sk-ant-", "admin01-", randomString(urlSafe, 93), "AA")],
  ["Google API key", () => join("AI", "za", randomString(urlSafe, 35))],
  ["Groq key", () => join("gsk", "_", randomString(base62, 52))],
  ["xAI key", () => join("xai", "-", randomString(base62, 80))],
  ["OpenRouter key", () => join("sk-", "or-v1-", randomString(hexLower, 64))],
  ["DeepSeek key", () => join("sk-", randomString(lowerNum, 32))],
  ["Hugging Face token", () => join("hf", "_", randomString(base62, 34))],
  ["Replicate token", () => join("r8", "_", randomString(base62, 37))],
  ["Perplexity key", () => join("pplx", "-", randomString(base62, 48))],
  ["Together key", () => join("tgp_", "v1_", randomString(urlSafe, 43))],
  ["Cerebras key", () => join("csk", "-", randomString(lowerNum, 48))],
  ["Fireworks key", () => join("fw", "_", randomString(base62, 24))],
  ["ElevenLabs key", () => join("sk", "_", randomString(hexLower, 48))],
  ["Stripe secret key", () => join("sk", "_live_", randomString(base62, 24))],
  ["GitHub token", () => join("gh", "p_", randomString(base62, 36))],
  ["GitHub fine-grained token", () => join("github", "_pat_", randomString(base62, 22), "_", randomString(base62, 59))],
  ["Slack bot token", () => join("xo", "xb-", randomString("0123456789", 12), "-", randomString("0123456789", 12), "-", randomString(base62, 24))],
  ["AWS access key id", () => join("AK", "IA", randomString(upperNum, 16))],
  ["SendGrid key", () => join("SG", ".", randomString(urlSafe, 22), ".", randomString(urlSafe, 43))],
  ["LangSmith key", () => join("lsv2", "_pt_", randomString(hexLower, 32), "_", randomString(hexLower, 10))],
  ["Pinecone key", () => join("pcsk", "_", randomString(base62, 5), "_", randomString(base62, 63))],
  ["Resend key", () => join("re", "_", randomString(base62, 8), "_", randomString(base62, 24))],
];

/** The places a key turns up: name → text holding k. */
const places: Array<[string, (k: string) => string]> = [
  ["alone", (k) => k],
  ["in a provider's error message", (k) => `401 Incorrect API key provided: ${k}. You can find your API key at the dashboard.`],
  ["in JSON", (k) => `{"api":"${k}","model":"fast"}`],
  ["URL-encoded", (k) => `body=%7B%22key%22%3A%22${k}%22%7D`],
  ["after an escaped newline", (k) => String.raw`line one\n${k}\nline two`],
  ["in a stack frame", (k) => `Error: boom ${k}\n    at call (file:///app/route.js:1:1)`],
];

describe("scrubError: key shapes", () => {
  for (const [name, make] of shapes) {
    for (const [where, wrap] of places) {
      test(`${name}, ${where}`, () => {
        const key = make();
        const out = scrubError(wrap(key));
        assert.ok(!out.includes(key), `kept: ${out}`);
        assert.ok(out.includes(R), out);
      });
    }
  }

  test("a private key block", () => {
    const block = join("-----BEGIN ", "PRIVATE KEY-----\n", randomString(base62, 64), "\n", randomString(base62, 64), "\n-----END ", "PRIVATE KEY-----");
    const out = scrubError(`config: ${block} end`);
    assert.equal(out, `config: ${R} end`);
  });

  test("Bearer anything", () => {
    assert.equal(scrubError("Authorization: Bearer abc.def-123"), `Authorization: Bearer ${R}`);
    assert.equal(scrubError("sent bearer my-static-client-key to keyward"), `sent bearer ${R} to keyward`);
  });

  test("credentials in URLs", () => {
    const secret = randomString(base62, 24);
    assert.equal(scrubError(`GET https://x.example/v1beta/models?key=${secret}&alt=sse`), `GET https://x.example/v1beta/models?key=${R}&alt=sse`);
    assert.equal(scrubError(`redis://default:${secret}@cache.internal:6379`), `redis://default:${R}@cache.internal:6379`);
  });

  test("header lines and cookies", () => {
    const secret = randomString(base62, 24);
    assert.equal(scrubError(`x-api-key: ${secret}`), `x-api-key: ${R}`);
    assert.equal(scrubError(`Cookie: session=${secret}; theme=dark`), `Cookie: ${R}`);
    assert.equal(scrubError(`{"password":"${secret}"}`), `{"password":"${R}"}`);
  });

  const kept = [
    "POST /v1/chat/completions 200 model=fast max_output_tokens=4096",
    "gpt-4.1-mini and claude-sonnet-4-5",
    `see risk-assessment-2024-q3 and task-${randomString(lowerNum, 40)}`,
    "X-Keyward-User: alice@example.com",
    "request req_5f0c2a9be13d47a8c6e2f190 took 412ms",
    "https://app.example.com/chat?model=fast&stream=true",
    "OPENAI_API_KEY=sk-...",
    "short",
  ];
  for (const s of kept) {
    test(`keeps ${JSON.stringify(s.slice(0, 40))}`, () => {
      assert.equal(scrubError(s), s);
    });
  }
});

describe("scrubError: values", () => {
  test("an Error: a copy of the same class, message and stack scrubbed, the original untouched", () => {
    const key = fakeOpenAIKey();
    const err = new TypeError(`bad key ${key}`);
    const out = scrubError(err);
    assert.ok(out instanceof TypeError);
    assert.notEqual(out, err);
    assert.equal(out.name, "TypeError");
    assert.equal(out.message, `bad key ${R}`);
    assert.ok(out.stack?.includes(R) && !out.stack.includes(key));
    assert.ok(err.message.includes(key), "the original is not modified");
    assert.ok(!Object.keys(out).includes("message"), "message stays non-enumerable");
  });

  test("a KeywardError keeps its fields", () => {
    const e = new KeywardError({ status: 429, code: "rate_limited_requests", message: "slow down", requestId: "req_1" });
    const out = scrubError(e);
    assert.ok(out instanceof KeywardError);
    assert.deepEqual([out.status, out.code, out.requestId, out.message], [429, "rate_limited_requests", "req_1", "slow down"]);
  });

  test("an Error's cause and own fields", () => {
    const key = fakeAnthropicKey();
    const cause = Object.assign(new Error("upstream"), { headers: { "x-api-key": key, "request-id": "req_9" } });
    const err = new Error("wrapped", { cause });
    const out = scrubError(err) as Error & { cause: Error & { headers: Record<string, string> } };
    assert.equal(out.cause.headers["x-api-key"], R);
    assert.equal(out.cause.headers["request-id"], "req_9");
    assert.ok(!JSON.stringify(out.cause.headers).includes(key));
  });

  test("a Sentry event", () => {
    const openai = fakeOpenAIKey();
    const kwKey = fakeKeywardKey("live");
    const token = jwt();
    const plain = randomString(base62, 20);
    const event = {
      event_id: "0123456789abcdef",
      message: `failed with ${openai}`,
      exception: {
        values: [
          {
            type: "Error",
            value: `401 from keyward for ${kwKey}`,
            stacktrace: { frames: [{ filename: "app/route.ts", lineno: 3, vars: { apiKey: plain, model: "fast" } }] },
          },
        ],
      },
      request: {
        url: `https://app.example.com/api/chat?token=${plain}`,
        method: "POST",
        query_string: [["api_key", plain], ["model", "fast"]],
        headers: { Authorization: `Bearer ${token}`, "X-Api-Key": plain, Cookie: `session=${plain}`, "X-Keyward-User": "alice", Accept: "*/*" },
        cookies: { session: plain, theme: "dark" },
        data: JSON.stringify({ messages: [{ role: "user", content: "hi" }], apiKey: plain }),
      },
      breadcrumbs: [{ category: "fetch", data: { url: `https://keyward.example/v1/chat/completions`, authorization: `Bearer ${plain}` }, message: `sent ${token}` }],
      extra: { env: { KEYWARD_SERVER_KEY: plain, KEYWARD_URL: "http://127.0.0.1:8787" } },
      user: { id: "alice" },
    };
    const out = scrubError(event);
    const text = JSON.stringify(out);
    for (const secret of [openai, kwKey, token, plain]) {
      assert.ok(!text.includes(secret), `kept a secret: ${text}`);
    }
    assert.equal(out.request.headers["X-Keyward-User"], "alice", "the user id is kept");
    assert.equal(out.request.headers.Accept, "*/*");
    assert.equal(out.request.headers.Authorization, R);
    assert.equal(out.request.cookies.theme, R, "every cookie goes");
    assert.deepEqual(out.request.query_string, [["api_key", R], ["model", "fast"]]);
    assert.equal(out.exception.values[0]?.stacktrace.frames[0]?.vars.model, "fast");
    assert.equal(out.extra.env.KEYWARD_URL, "http://127.0.0.1:8787");
    assert.equal(out.breadcrumbs[0]?.data.url, "https://keyward.example/v1/chat/completions");
    assert.equal(out.user.id, "alice");
    assert.equal(out.event_id, "0123456789abcdef");
    assert.ok(event.message.includes(openai), "the event itself is not modified");
  });

  test("cycles are kept as cycles", () => {
    const key = fakeOpenAIKey();
    const a: Record<string, unknown> = { name: "a", key };
    const b: Record<string, unknown> = { name: "b", a };
    a["b"] = b;
    a["self"] = a;
    const list: unknown[] = [a];
    list.push(list);
    const err = new Error(`loop ${key}`) as Error & { cause?: unknown };
    err.cause = err;
    const out = scrubError({ a, list, err }) as { a: Record<string, unknown>; list: unknown[]; err: Error };
    assert.equal(out.a["self"], out.a);
    assert.equal((out.a["b"] as Record<string, unknown>)["a"], out.a);
    assert.equal(out.list[1], out.list);
    assert.equal(out.err.cause, out.err);
    assert.ok(!JSON.stringify(out.a, (k, v) => (k === "self" || k === "b" ? undefined : v)).includes(key));
    assert.equal(out.err.message, `loop ${R}`);
  });

  test("never throws", () => {
    const throwing = {
      get boom(): string {
        throw new Error("getter");
      },
      ok: "fine",
    };
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    let deep: Record<string, unknown> = { leaf: fakeOpenAIKey() };
    for (let i = 0; i < 10_000; i++) {
      deep = { next: deep };
    }
    for (const v of [throwing, proxy, deep, Symbol("s"), () => 1, 10n, Object.create(null)]) {
      assert.doesNotThrow(() => scrubError(v));
    }
    assert.equal((scrubError(throwing) as { ok: string }).ok, "fine");
  });

  test("the same type back", () => {
    assert.equal(scrubError(42), 42);
    assert.equal(scrubError(null), null);
    assert.equal(scrubError(undefined), undefined);
    assert.equal(scrubError(true), true);
    assert.equal(typeof scrubError("x"), "string");
    assert.ok(Array.isArray(scrubError([1, "a"])));
    const d = new Date(0);
    assert.equal(scrubError(d), d);
  });

  test("Headers, Map, URL and Request", () => {
    const key = fakeKeywardKey("live");
    const h = scrubError(new Headers({ authorization: `Bearer ${key}`, "x-keyward-user": "alice", "content-type": "application/json" }));
    assert.ok(h instanceof Headers);
    assert.equal(h.get("authorization"), R);
    assert.equal(h.get("x-keyward-user"), "alice");
    const m = scrubError(new Map([["apiKey", "plain-secret-value"], ["model", "fast"]]));
    assert.deepEqual([...m], [["apiKey", R], ["model", "fast"]]);
    const u = scrubError(new URL(`https://x.example/p?key=${key}`));
    assert.ok(u instanceof URL && !u.href.includes(key));
    const r = scrubError({ req: new Request("https://x.example/v1", { headers: { "x-api-key": key } }) });
    assert.ok(!JSON.stringify(r).includes(key));
  });
});
