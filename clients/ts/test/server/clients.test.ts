// The SDK clients: lazy configuration, the refusal of provider keys, the
// base URL rule, and the real SDKs against a fake keyward.

import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";

import { createKeyward, KeywardConfigError } from "../../src/index.js";
import { sdkClass } from "../../src/sdk.js";
import { cleanEnv, withProcessEnv } from "../support/env.js";
import { FakeKeyward } from "../support/fakekeyward.js";
import { fakeAnthropicKey, fakeOpenAIKey, fakeKeywardKey } from "../support/keys.js";

async function startFake(t: TestContext): Promise<FakeKeyward> {
  const fake = await FakeKeyward.start();
  t.after(() => fake.close());
  return fake;
}

/** sentAnywhere reports whether any request the fake received holds s, in a header or the body. */
function sentAnywhere(fake: FakeKeyward, s: string): boolean {
  return fake.received.some((r) => r.body.includes(s) || Object.values(r.headers).some((v) => v.includes(s)));
}

/** credential is the keyward key a request carried: Bearer, or x-api-key (the Anthropic SDK may send either). */
function credential(r: { headers: Record<string, string> } | undefined): string | undefined {
  const auth = r?.headers["authorization"];
  return auth?.startsWith("Bearer ") ? auth.slice(7) : r?.headers["x-api-key"];
}

function configError(variables: string[], message?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof KeywardConfigError, `want KeywardConfigError, got ${String(e)}`);
    for (const v of variables) {
      assert.ok(e.variables.includes(v), `variables ${JSON.stringify(e.variables)} lack ${v}`);
      assert.match(e.message, new RegExp(v));
    }
    if (message !== undefined) {
      assert.match(e.message, message);
    }
    return true;
  };
}

const ask = [{ role: "user" as const, content: "Hi" }];

describe("lazy configuration", () => {
  test("createKeyward reads nothing; the first call names each missing variable", async () => {
    const kw = createKeyward({ env: {} });
    await assert.rejects(kw.openai(), configError(["KEYWARD_URL", "KEYWARD_SERVER_KEY"]));
    await assert.rejects(kw.anthropic(), configError(["KEYWARD_URL", "KEYWARD_SERVER_KEY"]));
    await assert.rejects(
      kw.mintBrowserToken({ user: "alice", ttlSeconds: 60, origin: "https://app.example.com" }),
      configError(["KEYWARD_URL", "KEYWARD_MINT_KEY"]),
    );
    await assert.rejects(kw.protect(new Request("http://app.test/"), { user: "alice" }), configError(["KEYWARD_SERVER_KEY"]));
  });

  test("the missing variable is named alone when the other is set", async () => {
    await assert.rejects(createKeyward({ env: { KEYWARD_URL: "http://127.0.0.1:1" } }).openai(), (e: unknown) => {
      assert.ok(e instanceof KeywardConfigError);
      assert.deepEqual(e.variables, ["KEYWARD_SERVER_KEY"]);
      return true;
    });
    await assert.rejects(createKeyward({ env: { KEYWARD_SERVER_KEY: fakeKeywardKey("live") } }).openai(), (e: unknown) => {
      assert.ok(e instanceof KeywardConfigError);
      assert.deepEqual(e.variables, ["KEYWARD_URL"]);
      return true;
    });
  });

  test("process.env is read at first use, not at createKeyward", async (t) => {
    const fake = await startFake(t);
    await withProcessEnv(cleanEnv, async () => {
      const kw = createKeyward(); // as at module scope, during next build
      process.env["KEYWARD_URL"] = fake.url;
      process.env["KEYWARD_SERVER_KEY"] = fake.serverKey;
      const ai = await kw.openai();
      const r = await ai.chat.completions.create({ model: "fast", messages: ask });
      assert.equal(r.choices[0]?.message.content, "Hello, world!");
    });
  });

  test("a failed first call is not cached: fixing the environment is enough", async (t) => {
    const fake = await startFake(t);
    const env: Record<string, string | undefined> = { KEYWARD_URL: fake.url };
    const kw = createKeyward({ env });
    await assert.rejects(kw.openai(), KeywardConfigError);
    env["KEYWARD_SERVER_KEY"] = fake.serverKey;
    const a = await kw.openai();
    assert.equal(await kw.openai(), a, "the client is built once");
  });
});

describe("provider keys are refused", () => {
  test("OPENAI_API_KEY or ANTHROPIC_API_KEY without a keyward key", async (t) => {
    const fake = await startFake(t);
    const openaiKey = fakeOpenAIKey();
    const anthropicKey = fakeAnthropicKey();
    await withProcessEnv({ ...cleanEnv, OPENAI_API_KEY: openaiKey, ANTHROPIC_API_KEY: anthropicKey }, async () => {
      const kw = createKeyward({ url: fake.url });
      const both = /OPENAI_API_KEY and ANTHROPIC_API_KEY are set but KEYWARD_SERVER_KEY is not/;
      await assert.rejects(kw.openai(), configError(["KEYWARD_SERVER_KEY"], both));
      await assert.rejects(kw.anthropic(), configError(["KEYWARD_SERVER_KEY"], both));
      await assert.rejects(kw.forUser("alice").openai(), configError(["KEYWARD_SERVER_KEY"], both));
      await assert.rejects(kw.protect(new Request("http://app.test/"), { user: "alice" }), configError(["KEYWARD_SERVER_KEY"], both));
      await assert.rejects(
        kw.mintBrowserToken({ user: "alice", ttlSeconds: 60, origin: "https://app.example.com" }),
        configError(["KEYWARD_MINT_KEY"], /set but KEYWARD_MINT_KEY is not/),
      );
      // The message names variables, never their values.
      await assert.rejects(kw.openai(), (e: unknown) => {
        assert.ok(e instanceof Error && !e.message.includes(openaiKey) && !e.message.includes(anthropicKey));
        return true;
      });
    });
    await withProcessEnv({ ...cleanEnv, ANTHROPIC_API_KEY: anthropicKey }, async () => {
      await assert.rejects(
        createKeyward({ url: fake.url }).anthropic(),
        configError(["KEYWARD_SERVER_KEY"], /ANTHROPIC_API_KEY is set but KEYWARD_SERVER_KEY is not/),
      );
    });
    assert.equal(fake.received.length, 0, "nothing was sent");
    assert.ok(!sentAnywhere(fake, openaiKey) && !sentAnywhere(fake, anthropicKey));
  });

  test("a provider key in KEYWARD_SERVER_KEY", async (t) => {
    const fake = await startFake(t);
    const openaiKey = fakeOpenAIKey();
    for (const key of [openaiKey, fakeAnthropicKey()]) {
      const kw = createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: key } });
      await assert.rejects(kw.openai(), configError(["KEYWARD_SERVER_KEY"], /not a keyward key/));
    }
    // Any shape, when it is the provider variable's value.
    const kw = createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: "plain-value-1234", OPENAI_API_KEY: "plain-value-1234" } });
    await assert.rejects(kw.openai(), configError(["KEYWARD_SERVER_KEY"], /the value of OPENAI_API_KEY/));
    assert.equal(fake.received.length, 0);
  });

  test("with a keyward key, the SDKs read no provider variable", async (t) => {
    const fake = await startFake(t);
    const elsewhere = await startFake(t); // where OPENAI_BASE_URL and ANTHROPIC_BASE_URL point
    const openaiKey = fakeOpenAIKey();
    const anthropicKey = fakeAnthropicKey();
    await withProcessEnv(
      {
        ...cleanEnv,
        OPENAI_API_KEY: openaiKey,
        OPENAI_ADMIN_KEY: openaiKey,
        OPENAI_BASE_URL: `${elsewhere.url}/v1`,
        OPENAI_ORG_ID: "org-should-not-be-sent",
        ANTHROPIC_API_KEY: anthropicKey,
        ANTHROPIC_AUTH_TOKEN: anthropicKey,
        ANTHROPIC_BASE_URL: elsewhere.url,
        KEYWARD_URL: fake.url,
        KEYWARD_SERVER_KEY: fake.serverKey,
      },
      async () => {
        const kw = createKeyward();
        await (await kw.openai()).chat.completions.create({ model: "fast", messages: ask });
        await (await kw.anthropic()).messages.create({ model: "claude", max_tokens: 16, messages: ask });
      },
    );
    assert.equal(elsewhere.received.length, 0, "OPENAI_BASE_URL / ANTHROPIC_BASE_URL were not used");
    assert.equal(fake.received.length, 2);
    assert.ok(!sentAnywhere(fake, openaiKey) && !sentAnywhere(fake, anthropicKey), "a provider key reached keyward");
    assert.ok(!sentAnywhere(fake, "org-should-not-be-sent"));
    const [chat, messages] = fake.received;
    assert.equal(chat?.headers["authorization"], `Bearer ${fake.serverKey}`);
    assert.equal(credential(messages), fake.serverKey);
    for (const r of fake.received) {
      const creds = [r.headers["authorization"], r.headers["x-api-key"]].filter((v) => v !== undefined);
      assert.equal(creds.length, 1, `${r.path}: one credential, the keyward key`);
    }
  });

  test("a *_CUSTOM_HEADERS variable that adds credentials", async (t) => {
    const fake = await startFake(t);
    const env = { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: fake.serverKey };
    await withProcessEnv({ ...cleanEnv, OPENAI_CUSTOM_HEADERS: "Authorization: Bearer something" }, async () => {
      await assert.rejects(createKeyward({ env }).openai(), configError(["OPENAI_CUSTOM_HEADERS"]));
    });
    await withProcessEnv({ ...cleanEnv, ANTHROPIC_CUSTOM_HEADERS: `X-Other: ${fakeAnthropicKey()}` }, async () => {
      await assert.rejects(createKeyward({ env }).anthropic(), configError(["ANTHROPIC_CUSTOM_HEADERS"]));
    });
    assert.equal(fake.received.length, 0);
  });
});

describe("KEYWARD_URL is the base URL without /v1", () => {
  for (const suffix of ["/v1", "/v1/", "/keyward/v1"]) {
    test(`${suffix} is refused`, async () => {
      const kw = createKeyward({ env: { KEYWARD_URL: `http://127.0.0.1:8787${suffix}`, KEYWARD_SERVER_KEY: fakeKeywardKey("live") } });
      await assert.rejects(kw.openai(), configError(["KEYWARD_URL"], /base URL without \/v1/));
    });
  }

  test("the url option is checked the same way", async () => {
    const kw = createKeyward({ url: "http://127.0.0.1:8787/v1", key: fakeKeywardKey("live") });
    await assert.rejects(kw.openai(), (e: unknown) => {
      assert.ok(e instanceof KeywardConfigError);
      assert.match(e.message, /the url option ends in \/v1, but it is keyward's base URL without \/v1/);
      return true;
    });
  });

  test("a trailing slash is dropped", async (t) => {
    const fake = await startFake(t);
    const kw = createKeyward({ env: { KEYWARD_URL: `${fake.url}/`, KEYWARD_SERVER_KEY: fake.serverKey } });
    await (await kw.openai()).chat.completions.create({ model: "fast", messages: ask });
    await (await kw.anthropic()).messages.create({ model: "claude", max_tokens: 16, messages: ask });
    assert.deepEqual(
      fake.received.map((r) => r.path),
      ["/v1/chat/completions", "/v1/messages"],
    );
  });

  for (const bad of ["127.0.0.1:8787", "ftp://127.0.0.1", "http://127.0.0.1:8787?x=1", "http://user:pw@127.0.0.1:8787"]) {
    test(`${bad} is refused`, async () => {
      await assert.rejects(createKeyward({ env: { KEYWARD_URL: bad, KEYWARD_SERVER_KEY: fakeKeywardKey("live") } }).openai(), configError(["KEYWARD_URL"]));
    });
  }
});

describe("the SDKs against keyward", () => {
  test("openai sends the server key to /v1/chat/completions, and no user", async (t) => {
    const fake = await startFake(t);
    const kw = createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: fake.serverKey } });
    const r = await (await kw.openai()).chat.completions.create({ model: "fast", messages: ask });
    assert.equal(r.choices[0]?.message.content, "Hello, world!");
    const [req] = fake.received;
    assert.equal(req?.method, "POST");
    assert.equal(req?.path, "/v1/chat/completions");
    assert.equal(req?.headers["authorization"], `Bearer ${fake.serverKey}`);
    assert.equal(req?.headers["x-keyward-user"], undefined);
  });

  test("openai streams through keyward", async (t) => {
    const fake = await startFake(t);
    const kw = createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: fake.serverKey } });
    const stream = await (await kw.openai()).chat.completions.create({ model: "fast", messages: ask, stream: true });
    let text = "";
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
    }
    assert.equal(text, "Hello, world!");
  });

  test("anthropic sends the server key to /v1/messages", async (t) => {
    const fake = await startFake(t);
    const kw = createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: fake.serverKey } });
    const m = await (await kw.anthropic()).messages.create({ model: "claude", max_tokens: 16, messages: ask });
    assert.deepEqual(m.content[0], { type: "text", text: "Hello, world!" });
    const [req] = fake.received;
    assert.equal(req?.path, "/v1/messages");
    assert.equal(credential(req), fake.serverKey);
  });

  test("a keyward error reaches the SDK as its own API error, with keyward's code", async (t) => {
    const fake = await startFake(t);
    const kw = createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: fake.plainKey } });
    const ai = (await kw.openai()).withOptions({ maxRetries: 0 });
    await assert.rejects(
      ai.chat.completions.create({ model: "fast", messages: [{ role: "user", content: "[[mock:status=429]]" }] }),
      (e: unknown) => {
        assert.equal((e as { status?: number }).status, 429);
        assert.equal((e as { code?: string }).code, "rate_limited_requests");
        return true;
      },
    );
  });

  test("the SDK clients do not retry keyward's refusals unless asked", async (t) => {
    const fake = await startFake(t);
    const tooMany = { model: "fast", messages: [{ role: "user" as const, content: "[[mock:status=429]]" }] };
    const kw = createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: fake.serverKey } });
    await assert.rejects((await kw.forUser("alice").openai()).chat.completions.create(tooMany));
    await assert.rejects((await kw.openai()).chat.completions.create(tooMany));
    assert.equal(fake.received.length, 2, "one request each, no retry");
    const retrying = createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: fake.serverKey }, maxRetries: 1 });
    await assert.rejects((await retrying.openai()).chat.completions.create(tooMany));
    assert.equal(fake.received.length, 4, "maxRetries: 1 retries once");
  });

  test("the fetch option is used", async (t) => {
    const fake = await startFake(t);
    let calls = 0;
    const kw = createKeyward({
      env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: fake.serverKey },
      fetch: (input, init) => {
        calls++;
        return fetch(input, init);
      },
    });
    await (await kw.openai()).chat.completions.create({ model: "fast", messages: ask });
    await (await kw.anthropic()).messages.create({ model: "claude", max_tokens: 16, messages: ask });
    assert.equal(calls, 2);
  });
});

describe("forUser", () => {
  test("its clients send X-Keyward-User", async (t) => {
    const fake = await startFake(t);
    const kw = createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: fake.serverKey } });
    const alice = kw.forUser("alice@example.com");
    assert.equal(alice.userId, "alice@example.com");
    await (await alice.openai()).chat.completions.create({ model: "fast", messages: ask });
    await (await alice.anthropic()).messages.create({ model: "claude", max_tokens: 16, messages: ask });
    await (await kw.forUser("bob").openai()).chat.completions.create({ model: "fast", messages: ask });
    await (await kw.openai()).chat.completions.create({ model: "fast", messages: ask });
    assert.deepEqual(
      fake.received.map((r) => [r.path, r.headers["x-keyward-user"], credential(r)]),
      [
        ["/v1/chat/completions", "alice@example.com", fake.serverKey],
        ["/v1/messages", "alice@example.com", fake.serverKey],
        ["/v1/chat/completions", "bob", fake.serverKey],
        ["/v1/chat/completions", undefined, fake.serverKey],
      ],
    );
  });

  const valid = ["a", "7", "alice", "user_123", "alice@example.com", "tenant:42", "a+b-c.d", "auth0|5f1c", "id=3", "x".repeat(128)];
  for (const id of valid) {
    test(`accepts ${JSON.stringify(id.length > 20 ? `${id.slice(0, 8)}…(${id.length})` : id)}`, () => {
      assert.equal(createKeyward({ env: {} }).forUser(id).userId, id);
    });
  }

  const invalid: Array<[string, unknown]> = [
    ["empty", ""],
    ["too long", "x".repeat(129)],
    ["leading dot", ".alice"],
    ["leading dash", "-alice"],
    ["space", "alice smith"],
    ["slash", "tenant/alice"],
    ["newline", "alice\nX-Evil: 1"],
    ["non-ASCII", "jos\u00e9"],
    ["null", null],
    ["number", 42],
  ];
  for (const [name, id] of invalid) {
    test(`refuses a user id: ${name}`, () => {
      assert.throws(() => createKeyward({ env: {} }).forUser(id as string), TypeError);
    });
  }
});

describe("finding the SDK class", () => {
  class Fake {}
  const missing = "anthropic() needs the @anthropic-ai/sdk package: npm install @anthropic-ai/sdk.";
  const shapes: Array<[string, unknown]> = [
    ["named export", { Anthropic: Fake }],
    ["default export", { default: Fake }],
    ["a CommonJS module wrapped by a bundler", { default: { default: Fake } }],
    ["a CommonJS module with a named export", { default: { Anthropic: Fake } }],
  ];
  for (const [name, mod] of shapes) {
    test(name, () => assert.equal(sdkClass(mod, "Anthropic", missing), Fake));
  }
  const absent: Array<[string, unknown]> = [
    ["an empty module, as a bundler answers a missing optional package", {}],
    ["an empty default", { default: {} }],
    ["a failed import", { failed: new Error("Cannot find module") }],
  ];
  for (const [name, mod] of absent) {
    test(`${name} is a KeywardConfigError naming the package`, () => {
      assert.throws(() => sdkClass(mod, "Anthropic", missing), configError(["@anthropic-ai/sdk"], /npm install @anthropic-ai\/sdk/));
    });
  }
});
