// mintBrowserToken and tokenRoute against a fake keyward's POST /v1/tokens.

import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";

import { createKeyward, KeywardConfigError, KeywardError, type KeywardOptions } from "../../src/index.js";
import { FakeKeyward } from "../support/fakekeyward.js";
import { deadUrl } from "../support/fakekeyward.js";
import { fakeKeywardKey } from "../support/keys.js";

async function setup(t: TestContext, extra: Partial<KeywardOptions> = {}) {
  const fake = await FakeKeyward.start();
  t.after(() => fake.close());
  const kw = createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_MINT_KEY: fake.mintKey, KEYWARD_SERVER_KEY: fake.serverKey }, ...extra });
  return { fake, kw };
}

const origin = "https://app.example.com";

function post(headers: Record<string, string> = { Origin: origin }, method = "POST"): Request {
  return new Request("http://app.test/api/keyward/token", { method, headers });
}

async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { error: { code: string } };
  return body.error.code;
}

describe("mintBrowserToken", () => {
  test("mints with the mint key", async (t) => {
    const { fake, kw } = await setup(t);
    const before = Date.now();
    const tok = await kw.mintBrowserToken({ user: "alice", ttlSeconds: 120, origin, models: ["fast"], maxOutputTokens: 256 });
    assert.ok(fake.tokens.has(tok.token));
    assert.ok(tok.expiresAt instanceof Date);
    const lifetime = tok.expiresAt.getTime() - before;
    assert.ok(lifetime > 118_000 && lifetime <= 121_000, `lifetime ${lifetime}`);
    assert.deepEqual(tok.models, ["fast"]);
    assert.equal(tok.maxOutputTokens, 256);
    const [req] = fake.received;
    assert.equal(req?.path, "/v1/tokens");
    assert.equal(req?.headers["authorization"], `Bearer ${fake.mintKey}`);
    assert.deepEqual(JSON.parse(req?.body ?? ""), { user: "alice", ttl_seconds: 120, origin, models: ["fast"], max_output_tokens: 256 });
  });

  test("optional fields are left out of the body", async (t) => {
    const { fake, kw } = await setup(t);
    await kw.mintBrowserToken({ user: "alice", ttlSeconds: 60, origin });
    assert.deepEqual(JSON.parse(fake.received[0]?.body ?? ""), { user: "alice", ttl_seconds: 60, origin });
  });

  test("a keyward error is a KeywardError with status, code and request id", async (t) => {
    // The server key has no tokens:mint scope: keyward answers 403 forbidden.
    const { fake, kw } = await setup(t, { mintKey: undefined });
    const wrong = createKeyward({ url: fake.url, mintKey: fake.serverKey });
    await assert.rejects(wrong.mintBrowserToken({ user: "alice", ttlSeconds: 60, origin }), (e: unknown) => {
      assert.ok(e instanceof KeywardError);
      assert.equal(e.status, 403);
      assert.equal(e.code, "forbidden");
      assert.equal(e.requestId, "req_1");
      assert.match(e.message, /tokens:mint/);
      return true;
    });
    fake.disabled.add("mallory");
    await assert.rejects(kw.mintBrowserToken({ user: "mallory", ttlSeconds: 60, origin }), { name: "KeywardError", code: "forbidden", requestId: "req_2" });
  });

  test("an unreachable keyward is KeywardError unavailable (503)", async () => {
    const kw = createKeyward({ url: await deadUrl(), mintKey: fakeKeywardKey("live") });
    await assert.rejects(kw.mintBrowserToken({ user: "alice", ttlSeconds: 60, origin }), { name: "KeywardError", status: 503, code: "unavailable" });
  });

  test("a 200 without a token is an error, not a token", async (t) => {
    const { fake, kw } = await setup(t);
    fake.overrides.set("POST /v1/tokens", (_r, res) => fake.json(res, 200, { nope: true }));
    await assert.rejects(kw.mintBrowserToken({ user: "alice", ttlSeconds: 60, origin }), { name: "KeywardError", code: "internal_error" });
  });

  const bad: Array<[string, Record<string, unknown>]> = [
    ["user id", { user: "not valid" }],
    ["ttl 0", { ttlSeconds: 0 }],
    ["ttl 901", { ttlSeconds: 901 }],
    ["ttl 1.5", { ttlSeconds: 1.5 }],
    ["origin with a path", { origin: "https://app.example.com/page" }],
    ["origin with a trailing slash", { origin: "https://app.example.com/" }],
    ["empty model", { models: [""] }],
    ["maxOutputTokens 0", { maxOutputTokens: 0 }],
  ];
  for (const [name, change] of bad) {
    test(`refuses ${name} before sending`, async (t) => {
      const { fake, kw } = await setup(t);
      const o = { user: "alice", ttlSeconds: 60, origin, ...change } as Parameters<typeof kw.mintBrowserToken>[0];
      await assert.rejects(kw.mintBrowserToken(o), TypeError);
      assert.equal(fake.received.length, 0);
    });
  }
});

describe("tokenRoute", () => {
  test("mints for the signed-in user and the request's origin", async (t) => {
    const { fake, kw } = await setup(t);
    const route = kw.tokenRoute({ auth: () => "alice", models: ["fast"], ttlSeconds: 60, publicUrl: "https://ai.example.com/" });
    const res = await route(post());
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ["expires_at", "expires_in", "max_output_tokens", "models", "token", "url"]);
    assert.equal(body["url"], "https://ai.example.com");
    assert.deepEqual(body["models"], ["fast"]);
    assert.equal(body["expires_in"], 60);
    const minted = fake.tokens.get(body["token"] as string);
    assert.deepEqual(minted && { user: minted.user, origin: minted.origin }, { user: "alice", origin });
    assert.equal(new Date(body["expires_at"] as string).getTime(), minted?.expiresAt);
  });

  test("url is publicUrl, else KEYWARD_PUBLIC_URL, else KEYWARD_URL", async (t) => {
    const { fake } = await setup(t);
    const env: Record<string, string | undefined> = { KEYWARD_URL: `${fake.url}/`, KEYWARD_MINT_KEY: fake.mintKey };
    const route = createKeyward({ env }).tokenRoute({ auth: () => "alice" });
    const url = async () => ((await (await route(post())).json()) as { url: string }).url;
    assert.equal(await url(), fake.url);
    env["KEYWARD_PUBLIC_URL"] = "https://ai.example.com";
    assert.equal(await url(), "https://ai.example.com");
    env["KEYWARD_PUBLIC_URL"] = "https://ai.example.com/v1";
    await assert.rejects(route(post()), (e: unknown) => e instanceof KeywardConfigError && e.variables.includes("KEYWARD_PUBLIC_URL"));
  });

  test("401 when auth returns no user; auth sees the request", async (t) => {
    const { fake, kw } = await setup(t);
    for (const none of [null, undefined, ""]) {
      let seen: Request | undefined;
      const route = kw.tokenRoute({
        auth: async (req) => {
          seen = req;
          return none;
        },
      });
      const req = post();
      const res = await route(req);
      assert.equal(seen, req);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.equal(await errorCode(res), "unauthorized");
    }
    assert.equal(fake.received.length, 0);
  });

  test("400 without an Origin header", async (t) => {
    const { fake, kw } = await setup(t);
    const route = kw.tokenRoute({ auth: () => "alice" });
    for (const headers of [{}, { Origin: "null" }, { Origin: "https://app.example.com/path" }] as Array<Record<string, string>>) {
      const res = await route(post(headers));
      assert.equal(res.status, 400);
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.equal(await errorCode(res), "invalid_request");
    }
    assert.equal(fake.received.length, 0);
  });

  test("405 for anything but POST", async (t) => {
    const { kw } = await setup(t);
    const res = await kw.tokenRoute({ auth: () => "alice" })(post({ Origin: origin }, "GET"));
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "POST");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(await errorCode(res), "method_not_allowed");
  });

  test("keyward's 403 is relayed as 403, never 200", async (t) => {
    const { fake, kw } = await setup(t);
    fake.disabled.add("mallory");
    const res = await kw.tokenRoute({ auth: () => "mallory" })(post());
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("x-request-id"), "req_1");
    const body = (await res.json()) as { error: Record<string, unknown> };
    assert.deepEqual(body.error, {
      message: "This user is disabled.",
      type: "permission_error",
      param: null,
      code: "forbidden",
      request_id: "req_1",
    });
  });

  test("keyward's other errors keep their status: 401 bad mint key, 503 unreachable", async (t) => {
    const { fake } = await setup(t);
    const badKey = createKeyward({ url: fake.url, mintKey: fakeKeywardKey("live") }).tokenRoute({ auth: () => "alice" });
    const r1 = await badKey(post());
    assert.equal(r1.status, 401);
    assert.equal(await errorCode(r1), "unauthorized");
    const dead = createKeyward({ url: await deadUrl(), mintKey: fakeKeywardKey("live") }).tokenRoute({ auth: () => "alice" });
    const r2 = await dead(post());
    assert.equal(r2.status, 503);
    assert.equal(await errorCode(r2), "unavailable");
  });

  test("a cross-site request is refused; allowedOrigins decides when given", async (t) => {
    const { fake, kw } = await setup(t);
    const route = kw.tokenRoute({ auth: () => "alice" });
    const cross = await route(post({ Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" }));
    assert.equal(cross.status, 403);
    assert.equal(await errorCode(cross), "origin_not_allowed");
    assert.equal((await route(post({ Origin: origin, "Sec-Fetch-Site": "same-origin" }))).status, 200);

    const listed = kw.tokenRoute({ auth: () => "alice", allowedOrigins: ["https://admin.example.com"] });
    assert.equal((await listed(post({ Origin: "https://admin.example.com", "Sec-Fetch-Site": "same-site" }))).status, 200);
    assert.equal((await listed(post({ Origin: origin }))).status, 403);
    assert.equal(fake.requests("/v1/tokens").length, 2);
  });

  test("a missing mint key is the app's error, thrown", async (t) => {
    const { fake } = await setup(t);
    const route = createKeyward({ env: { KEYWARD_URL: fake.url } }).tokenRoute({ auth: () => "alice" });
    await assert.rejects(route(post()), (e: unknown) => e instanceof KeywardConfigError && e.variables.includes("KEYWARD_MINT_KEY"));
  });

  test("bad options fail at creation", () => {
    const kw = createKeyward({ env: {} });
    assert.throws(() => kw.tokenRoute({ auth: () => "alice", ttlSeconds: 0 }), TypeError);
    assert.throws(() => kw.tokenRoute({} as Parameters<typeof kw.tokenRoute>[0]), TypeError);
  });
});
