// The shared pieces of the wire contract: error bodies of both shapes, the
// base URL and user id rules, and the event stream reader.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { baseUrl, checkUserId } from "../../src/contract.js";
import { errorFromBody, errorFromResponse, KeywardConfigError, KeywardError, statusOf } from "../../src/errors.js";
import { readEvents, type ServerSentEvent } from "../../src/sse.js";

describe("keyward's error bodies", () => {
  test("OpenAI shape", () => {
    const e = errorFromBody(
      { error: { message: "Request rate limit reached; retry later.", type: "rate_limit_error", param: null, code: "rate_limited_requests", request_id: "req_b" } },
      429,
      undefined,
    );
    assert.ok(e instanceof KeywardError);
    assert.deepEqual([e.status, e.code, e.message, e.requestId], [429, "rate_limited_requests", "Request rate limit reached; retry later.", "req_b"]);
  });

  test("Anthropic shape: the code is in error.code, the request id at the top", () => {
    const e = errorFromBody(
      { type: "error", error: { type: "rate_limit_error", message: "Spend limit reached.", code: "insufficient_quota" }, request_id: "req_a" },
      429,
      undefined,
    );
    assert.deepEqual([e?.status, e?.code, e?.requestId], [429, "insufficient_quota", "req_a"]);
  });

  test("the X-Request-Id header wins over the body's", () => {
    assert.equal(errorFromBody({ error: { code: "forbidden", message: "no", request_id: "body" } }, 403, "header")?.requestId, "header");
  });

  test("a mid-stream error gets its code's status", () => {
    assert.equal(errorFromBody({ error: { code: "upstream_timeout", message: "late" } }, undefined, undefined)?.status, 504);
    assert.equal(statusOf("insufficient_quota"), 429);
    assert.equal(statusOf("never-heard-of-it"), 500);
  });

  test("not keyward's body", () => {
    assert.equal(errorFromBody({ message: "hi" }, 500, undefined), undefined);
    assert.equal(errorFromBody("text", 500, undefined), undefined);
    assert.equal(errorFromBody({ error: {} }, 500, undefined), undefined);
  });

  test("a proxy's page is not quoted: the status names it", async () => {
    const res = new Response("<html>secret internals</html>", { status: 502, headers: { "X-Request-Id": "req_p" } });
    const e = await errorFromResponse(res);
    assert.deepEqual([e.status, e.code, e.requestId], [502, "unavailable", "req_p"]);
    assert.doesNotMatch(e.message, /internals/);
    assert.equal((await errorFromResponse(new Response("", { status: 429 }))).code, "rate_limited");
  });
});

describe("baseUrl", () => {
  const ok: Array<[string, string]> = [
    ["http://127.0.0.1:8787", "http://127.0.0.1:8787"],
    ["http://127.0.0.1:8787/", "http://127.0.0.1:8787"],
    [" https://ai.example.com// ", "https://ai.example.com"],
    ["https://example.com/keyward/", "https://example.com/keyward"],
    ["https://example.com/v1beta", "https://example.com/v1beta"],
  ];
  for (const [input, want] of ok) {
    test(`${JSON.stringify(input)} → ${want}`, () => assert.equal(baseUrl(input, "KEYWARD_URL"), want));
  }
  for (const input of ["http://127.0.0.1:8787/v1", "http://127.0.0.1:8787/V1/", "https://example.com/keyward/v1"]) {
    test(`${input} is refused with the URL to use`, () => {
      assert.throws(() => baseUrl(input, "KEYWARD_URL"), (e: unknown) => {
        assert.ok(e instanceof KeywardConfigError);
        assert.match(e.message, /KEYWARD_URL ends in \/v1, but it is keyward's base URL without \/v1 \(http/);
        return true;
      });
    });
  }
});

describe("checkUserId", () => {
  test("accepts the contract's alphabet", () => {
    for (const id of ["a", "Z9", "a.b_c@d:e+f-g", "x".repeat(128)]) {
      assert.equal(checkUserId(id), id);
    }
  });
  test("refuses the rest, without quoting the id", () => {
    for (const id of ["", "_a", "a b", "x".repeat(129), "a\u0000", "a,b"]) {
      assert.throws(() => checkUserId(id), (e: unknown) => e instanceof TypeError && (id.length < 3 || !e.message.includes(id)));
    }
  });
});

/** events reads a stream delivered in the given chunks. */
async function events(chunks: string[]): Promise<ServerSentEvent[]> {
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const s of chunks) {
        c.enqueue(enc.encode(s));
      }
      c.close();
    },
  });
  const out: ServerSentEvent[] = [];
  for await (const ev of readEvents(body)) {
    out.push(ev);
  }
  return out;
}

describe("readEvents", () => {
  test("data-only events, as chat completions stream", async () => {
    assert.deepEqual(await events(['data: {"a":1}\n\n', "data: [DONE]\n\n"]), [
      { event: "message", data: '{"a":1}' },
      { event: "message", data: "[DONE]" },
    ]);
  });

  test("named events, multi-line data, comments, CRLF and CR", async () => {
    assert.deepEqual(await events(["\uFEFF: ping\r\n\r\nevent: error\r\ndata: one\r\ndata:two\r\n\r\n", "data: x\r\rid: 1\nretry: 5\ndata\n\n"]), [
      { event: "error", data: "one\ntwo" },
      { event: "message", data: "x" },
      { event: "message", data: "" },
    ]);
  });

  test("any split of the text gives the same events", async () => {
    const whole = "event: a\r\ndata: h\u00e9llo\r\n\r\ndata: w\u00f6rld\n\ndata: [DONE]\r\r";
    const want = await events([whole]);
    assert.equal(want.length, 3);
    for (let cut = 0; cut <= whole.length; cut++) {
      assert.deepEqual(await events([whole.slice(0, cut), whole.slice(cut)]), want, `cut at ${cut}`);
    }
  });

  test("an event the stream ends in the middle of is dropped", async () => {
    assert.deepEqual(await events(["data: whole\n\n", "data: half"]), [{ event: "message", data: "whole" }]);
  });
});
