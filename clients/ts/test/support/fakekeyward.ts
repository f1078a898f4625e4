// A fake keyward on a real local HTTP server: the routes @keyward/next
// talks to, answering as the contract says (auth, scopes, error bodies of
// both shapes, X-Request-Id, SSE streams), and a record of every request
// received so tests can assert what was and was not sent.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { fakeKeywardKey, randomString, base62 } from "./keys.js";

/** One request as the fake received it. */
export interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A route override: answer the request yourself, or return false to let the fake answer. */
export type Override = (req: Received, res: ServerResponse) => boolean | void | Promise<boolean | void>;

interface Minted {
  user: string;
  origin: string;
  models: string[];
  expiresAt: number;
}

type Family = "openai" | "anthropic";

const statusOf: Record<string, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  forbidden_model: 403,
  origin_not_allowed: 403,
  not_found: 404,
  method_not_allowed: 405,
  rate_limited_requests: 429,
  rate_limited_tokens: 429,
  insufficient_quota: 429,
  unavailable: 503,
  internal_error: 500,
};

/** FakeKeyward is the fake server. */
export class FakeKeyward {
  /** The base URL, without /v1. */
  readonly url: string;
  /** Every request, in order. */
  readonly received: Received[] = [];
  /** The key with the users:assert scope. */
  readonly serverKey = fakeKeywardKey("live");
  /** The key with the tokens:mint scope. */
  readonly mintKey = fakeKeywardKey("live");
  /** A valid key with neither scope. */
  readonly plainKey = fakeKeywardKey("test");
  /** Request limits per user: requests allowed per window. A user without one has no limit. */
  readonly limits = new Map<string, number>();
  /** Users keyward has disabled: 403 forbidden. */
  readonly disabled = new Set<string>();
  /** The text a chat completion answers, in the pieces it streams. */
  chunks = ["Hello", ", ", "world", "!"];
  /** The fake's clock, in milliseconds. */
  now = () => Date.now();
  /** Route overrides by "METHOD /path". */
  readonly overrides = new Map<string, Override>();
  /** Browser tokens minted, by token. */
  readonly tokens = new Map<string, Minted>();

  private readonly used = new Map<string, number>();
  private nextId = 1;

  private constructor(private readonly server: Server) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
  }

  /** start listens on a free loopback port. */
  static async start(): Promise<FakeKeyward> {
    let fake: FakeKeyward | undefined;
    const server = createServer((req, res) => {
      void fake?.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    fake = new FakeKeyward(server);
    return fake;
  }

  /** close stops the server and drops its connections. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** requests returns the requests received on a path. */
  requests(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  /** mint makes a token as POST /v1/tokens would. */
  mint(user: string, origin: string, models: string[], ttlSeconds: number): { token: string; expiresAt: number } {
    const exp = Math.floor(this.now() / 1000) + ttlSeconds;
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const token =
      enc({ alg: "EdDSA", typ: "JWT", kid: "k1" }) +
      "." +
      enc({ iss: "keyward", sub: user, exp, origin, models, jti: randomString(base62, 12) }) +
      "." +
      Buffer.from(randomString(base62, 64)).toString("base64url");
    const expiresAt = exp * 1000;
    this.tokens.set(token, { user, origin, models, expiresAt });
    return { token, expiresAt };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) {
      chunks.push(c as Buffer);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      headers[k] = Array.isArray(v) ? v.join(", ") : (v ?? "");
    }
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const r: Received = { method: req.method ?? "GET", path, headers, body: Buffer.concat(chunks).toString("utf8") };
    this.received.push(r);
    res.setHeader("X-Request-Id", `req_${this.nextId++}`);
    try {
      const override = this.overrides.get(`${r.method} ${path}`);
      if (override !== undefined && (await override(r, res)) !== false) {
        return;
      }
      this.route(r, res);
    } catch (e) {
      if (!res.headersSent) {
        this.fail(res, "openai", "internal_error", String(e));
      } else {
        res.end();
      }
    }
  }

  private route(r: Received, res: ServerResponse): void {
    const family: Family = r.path === "/v1/messages" ? "anthropic" : "openai";
    if (r.method !== "POST") {
      return this.fail(res, family, "method_not_allowed");
    }
    const who = this.authenticate(r);
    if (who === undefined) {
      return this.fail(res, family, "unauthorized");
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(r.body) as Record<string, unknown>;
    } catch {
      return this.fail(res, family, "invalid_request", "The request body is not valid JSON.");
    }
    switch (r.path) {
      case "/v1/tokens":
        return this.tokensRoute(who, body, res);
      case "/v1/decisions":
        return this.decisions(who, r, body, res);
      case "/v1/chat/completions":
        return this.chat(body, res);
      case "/v1/messages":
        return this.messages(body, res);
    }
    this.fail(res, family, "not_found");
  }

  /** authenticate names the caller: "server", "mint", "plain" or "token:<token>". */
  private authenticate(r: Received): string | undefined {
    const auth = r.headers["authorization"];
    const cred = auth?.startsWith("Bearer ") ? auth.slice(7) : r.headers["x-api-key"];
    switch (cred) {
      case undefined:
        return undefined;
      case this.serverKey:
        return "server";
      case this.mintKey:
        return "mint";
      case this.plainKey:
        return "plain";
    }
    const t = this.tokens.get(cred);
    if (t !== undefined && t.expiresAt > this.now()) {
      return `token:${cred}`;
    }
    return undefined;
  }

  private tokensRoute(who: string, body: Record<string, unknown>, res: ServerResponse): void {
    if (who !== "mint") {
      return this.fail(res, "openai", "forbidden", "Browser tokens are minted with a virtual key that has the tokens:mint scope.");
    }
    const { user, ttl_seconds: ttl, origin, models } = body;
    if (typeof user !== "string" || user === "" || typeof ttl !== "number" || ttl < 1 || ttl > 900 || typeof origin !== "string") {
      return this.fail(res, "openai", "invalid_request", "The body must be {user, ttl_seconds, origin, models?, plan?, max_output_tokens?}");
    }
    if (this.disabled.has(user)) {
      return this.fail(res, "openai", "forbidden", "This user is disabled.");
    }
    const granted = Array.isArray(models) ? (models as string[]) : ["fast", "smart"];
    const t = this.mint(user, origin, granted, ttl);
    const maxOut = typeof body["max_output_tokens"] === "number" ? body["max_output_tokens"] : 4096;
    this.json(res, 200, {
      token: t.token,
      expires_at: new Date(t.expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z"),
      models: granted,
      max_output_tokens: maxOut,
    });
  }

  private decisions(who: string, r: Received, body: Record<string, unknown>, res: ServerResponse): void {
    if (who !== "server") {
      return this.fail(res, "openai", "forbidden", "Decisions need a virtual key with the users:assert scope.");
    }
    const user = r.headers["x-keyward-user"];
    if (user === undefined || user === "") {
      return this.fail(res, "openai", "invalid_request", "X-Keyward-User is required.");
    }
    if (this.disabled.has(user)) {
      return this.fail(res, "openai", "forbidden", "This user is disabled.");
    }
    const cost = body["cost"] ?? 1;
    if (typeof cost !== "number" || !Number.isInteger(cost) || cost < 1 || cost > 1000) {
      return this.fail(res, "openai", "invalid_request", "cost must be from 1 to 1000.");
    }
    const limit = this.limits.get(user);
    if (limit === undefined) {
      return this.json(res, 200, { success: true, limit: 0, remaining: 0, reset: 0, reason: "no_limit" });
    }
    const used = this.used.get(user) ?? 0;
    const reset = Math.ceil((this.now() + 1) / 60000) * 60000;
    const ok = used + cost <= limit;
    if (ok && body["dry_run"] !== true) {
      this.used.set(user, used + cost);
    }
    const after = ok && body["dry_run"] !== true ? used + cost : used;
    this.json(res, 200, {
      success: ok,
      limit,
      remaining: Math.max(0, limit - after),
      reset,
      reason: ok ? "allowed" : "rate_limited_requests",
    });
  }

  private chat(body: Record<string, unknown>, res: ServerResponse): void {
    const prompt = JSON.stringify(body["messages"] ?? []);
    // keyward's mock provider markers: [[mock:status=N]] and [[mock:break=N]].
    const status = /\[\[mock:status=(\d+)\]\]/.exec(prompt);
    if (status !== null) {
      const code = Number(status[1]) === 429 ? "rate_limited_requests" : Number(status[1]) === 503 ? "unavailable" : "internal_error";
      return this.fail(res, "openai", code);
    }
    const brk = /\[\[mock:break=(\d+)\]\]/.exec(prompt);
    const text = this.chunks.join("");
    const id = "chatcmpl-" + randomString(base62, 10);
    const model = typeof body["model"] === "string" ? body["model"] : "fast";
    if (body["stream"] !== true) {
      return this.json(res, 200, {
        id,
        object: "chat.completion",
        created: Math.floor(this.now() / 1000),
        model,
        choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
        usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
      });
    }
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store" });
    const event = (v: unknown) => res.write(`data: ${JSON.stringify(v)}\n\n`);
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      event({ id, object: "chat.completion.chunk", created: 0, model, choices: [{ index: 0, delta, finish_reason: finish }] });
    chunk({ role: "assistant", content: "" }, null);
    for (const [i, piece] of this.chunks.entries()) {
      if (brk !== null && i === Number(brk[1])) {
        res.write(`data: ${JSON.stringify(errorBody("openai", "upstream_error", "The provider returned an error.", res))}\n\n`);
        res.end();
        return;
      }
      chunk({ content: piece }, null);
    }
    chunk({}, "stop");
    res.write("data: [DONE]\n\n");
    res.end();
  }

  private messages(body: Record<string, unknown>, res: ServerResponse): void {
    this.json(res, 200, {
      id: "msg_" + randomString(base62, 10),
      type: "message",
      role: "assistant",
      model: body["model"],
      content: [{ type: "text", text: this.chunks.join("") }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 5, output_tokens: 4 },
    });
  }

  /** fail answers keyward's error body of a route's shape. */
  fail(res: ServerResponse, family: Family, code: string, message = `fake keyward: ${code}`): void {
    this.json(res, statusOf[code] ?? 500, errorBody(family, code, message, res));
  }

  json(res: ServerResponse, status: number, body: unknown): void {
    const b = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(b), "Cache-Control": "no-store" });
    res.end(b);
  }
}

/** errorBody is apierr.Body: OpenAI's shape, or Anthropic's on /v1/messages. */
export function errorBody(family: Family, code: string, message: string, res: ServerResponse): unknown {
  const requestId = String(res.getHeader("X-Request-Id") ?? "");
  const type = code === "unauthorized" ? "authentication_error" : code.startsWith("rate_limited") ? "rate_limit_error" : "api_error";
  if (family === "anthropic") {
    return { type: "error", error: { type, message, code }, request_id: requestId };
  }
  return { error: { message, type, param: null, code, request_id: requestId } };
}

/** deadUrl is a loopback URL nothing listens on: a server started and closed. */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
