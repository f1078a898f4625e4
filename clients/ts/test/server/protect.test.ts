// protect against a fake keyward's POST /v1/decisions.

import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";

import { createKeyward, type Keyward } from "../../src/index.js";
import { deadUrl, FakeKeyward } from "../support/fakekeyward.js";
import { fakeKeywardKey } from "../support/keys.js";

async function setup(t: TestContext): Promise<{ fake: FakeKeyward; kw: Keyward }> {
  const fake = await FakeKeyward.start();
  t.after(() => fake.close());
  return { fake, kw: createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: fake.serverKey } }) };
}

const req = new Request("http://app.test/api/chat", { method: "POST" });
const unavailable = { success: false, limit: 0, remaining: 0, reset: 0, reason: "unavailable" };

describe("protect", () => {
  test("allowed, then limited", async (t) => {
    const { fake, kw } = await setup(t);
    fake.limits.set("alice", 2);
    const first = await kw.protect(req, { user: "alice" });
    assert.equal(first.success, true);
    assert.equal(first.reason, "allowed");
    assert.equal(first.limit, 2);
    assert.equal(first.remaining, 1);
    assert.ok(first.reset > Date.now());
    assert.equal((await kw.protect(req, { user: "alice" })).remaining, 0);
    const third = await kw.protect(req, { user: "alice" });
    assert.deepEqual({ success: third.success, reason: third.reason, remaining: third.remaining }, {
      success: false,
      reason: "rate_limited_requests",
      remaining: 0,
    });

    const [sent] = fake.received;
    assert.equal(sent?.path, "/v1/decisions");
    assert.equal(sent?.headers["authorization"], `Bearer ${fake.serverKey}`);
    assert.equal(sent?.headers["x-keyward-user"], "alice");
    assert.deepEqual(JSON.parse(sent?.body ?? ""), { cost: 1, dry_run: false });
  });

  test("cost counts as that many requests", async (t) => {
    const { fake, kw } = await setup(t);
    fake.limits.set("alice", 10);
    assert.equal((await kw.protect(req, { user: "alice", cost: 7 })).remaining, 3);
    assert.equal((await kw.protect(req, { user: "alice", cost: 4 })).success, false);
    assert.deepEqual(JSON.parse(fake.received[0]?.body ?? ""), { cost: 7, dry_run: false });
  });

  test("dryRun asks without counting", async (t) => {
    const { fake, kw } = await setup(t);
    fake.limits.set("alice", 1);
    for (let i = 0; i < 3; i++) {
      const d = await kw.protect(req, { user: "alice", dryRun: true });
      assert.deepEqual([d.success, d.remaining, d.reason], [true, 1, "allowed"]);
    }
    assert.equal(JSON.parse(fake.received[0]?.body ?? "").dry_run, true);
    assert.equal((await kw.protect(req, { user: "alice" })).success, true);
    assert.equal((await kw.protect(req, { user: "alice" })).success, false);
  });

  test("no limit", async (t) => {
    const { kw } = await setup(t);
    assert.deepEqual(await kw.protect(req, { user: "bob" }), { success: true, limit: 0, remaining: 0, reset: 0, reason: "no_limit" });
  });

  test("forUser(id).protect", async (t) => {
    const { fake, kw } = await setup(t);
    fake.limits.set("carol", 1);
    assert.equal((await kw.forUser("carol").protect(req)).reason, "allowed");
    assert.equal((await kw.forUser("carol").protect(req, { dryRun: true })).reason, "rate_limited_requests");
    assert.deepEqual(
      fake.received.map((r) => r.headers["x-keyward-user"]),
      ["carol", "carol"],
    );
  });

  test("a disabled user is denied with keyward's code, failOpen or not", async (t) => {
    const { fake, kw } = await setup(t);
    fake.disabled.add("mallory");
    for (const failOpen of [false, true]) {
      assert.deepEqual(await kw.protect(req, { user: "mallory", failOpen }), {
        success: false,
        limit: 0,
        remaining: 0,
        reset: 0,
        reason: "forbidden",
      });
    }
  });

  test("a key without users:assert is denied, not allowed", async (t) => {
    const { fake } = await setup(t);
    const kw = createKeyward({ url: fake.url, key: fake.mintKey });
    assert.equal((await kw.protect(req, { user: "alice", failOpen: true })).reason, "forbidden");
    const bad = createKeyward({ url: fake.url, key: fakeKeywardKey("live") });
    assert.equal((await bad.protect(req, { user: "alice", failOpen: true })).reason, "unauthorized");
  });

  describe("fails closed when keyward cannot decide", () => {
    test("connection refused", async () => {
      const kw = createKeyward({ url: await deadUrl(), key: fakeKeywardKey("live") });
      assert.deepEqual(await kw.protect(req, { user: "alice" }), unavailable);
      assert.deepEqual(await kw.protect(req, { user: "alice", failOpen: true }), { ...unavailable, success: true });
    });

    const answers: Array<[string, (fake: FakeKeyward) => void]> = [
      ["500", (fake) => fake.overrides.set("POST /v1/decisions", (_r, res) => fake.fail(res, "openai", "internal_error"))],
      ["503", (fake) => fake.overrides.set("POST /v1/decisions", (_r, res) => fake.fail(res, "openai", "unavailable"))],
      ["502 with an HTML page", (fake) => fake.overrides.set("POST /v1/decisions", (_r, res) => void res.writeHead(502).end("<html>bad gateway</html>"))],
      ["200 that is not JSON", (fake) => fake.overrides.set("POST /v1/decisions", (_r, res) => void res.writeHead(200).end("ok"))],
      ["200 without success", (fake) => fake.overrides.set("POST /v1/decisions", (_r, res) => fake.json(res, 200, { limit: 1, remaining: 1, reset: 0, reason: "allowed" }))],
      ["200 with success as a string", (fake) => fake.overrides.set("POST /v1/decisions", (_r, res) => fake.json(res, 200, { success: "true", limit: 1, remaining: 1, reset: 0, reason: "allowed" }))],
    ];
    for (const [name, arrange] of answers) {
      test(name, async (t) => {
        const { fake, kw } = await setup(t);
        arrange(fake);
        assert.deepEqual(await kw.protect(req, { user: "alice" }), unavailable);
        assert.deepEqual(await kw.protect(req, { user: "alice", failOpen: true }), { ...unavailable, success: true });
      });
    }

    test("no answer within timeoutMs", async (t) => {
      const { fake, kw } = await setup(t);
      fake.overrides.set("POST /v1/decisions", () => true); // never answers
      const started = Date.now();
      assert.deepEqual(await kw.protect(req, { user: "alice", timeoutMs: 100 }), unavailable);
      assert.ok(Date.now() - started < 5000);
    });
  });

  test("arguments are checked before sending", async (t) => {
    const { fake, kw } = await setup(t);
    for (const cost of [0, 1001, 1.5, Number.NaN]) {
      await assert.rejects(kw.protect(req, { user: "alice", cost }), TypeError);
    }
    await assert.rejects(kw.protect(req, { user: "not valid" }), TypeError);
    assert.equal(fake.received.length, 0);
  });
});
