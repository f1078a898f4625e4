// Review 17: a provider key in KEYWARD_SERVER_KEY is refused only when it
// has one of six shapes (or equals OPENAI_API_KEY / ANTHROPIC_API_KEY);
// keys of every other provider keyward itself knows (internal/scan/rules:
// OpenRouter, DeepSeek, Hugging Face, …) are sent to keyward as the
// credential, in Authorization, on every request.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createKeyward } from "../../src/index.js";
import { FakeKeyward } from "../support/fakekeyward.js";
import { base62, hexLower, join, lowerNum, randomString } from "../support/keys.js";

describe("review17", () => {
  test("TestReview17ProviderKeyOfAnotherShapeIsSentToKeyward", async (t) => {
    const fake = await FakeKeyward.start();
    t.after(() => fake.close());
    const keys: Record<string, string> = {
      openrouter: join("sk", "-or-v1-", randomString(hexLower, 64)),
      deepseek: join("sk", "-", randomString(lowerNum, 32)),
      huggingface: join("hf", "_", randomString(base62, 34)),
    };
    const sent: string[] = [];
    for (const [name, key] of Object.entries(keys)) {
      const kw = createKeyward({ env: { KEYWARD_URL: fake.url, KEYWARD_SERVER_KEY: key } });
      try {
        await (await kw.openai()).chat.completions.create({ model: "fast", messages: [{ role: "user", content: "hi" }] });
      } catch {
        // refused by the kit (wanted) or by keyward (after the key was sent)
      }
      if (fake.received.some((r) => Object.values(r.headers).some((v) => v.includes(key)))) {
        sent.push(name);
      }
    }
    assert.deepEqual(sent, [], `provider keys sent to keyward as the keyward key: ${sent.join(", ")}`);
  });
});
