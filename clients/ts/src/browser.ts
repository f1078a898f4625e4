// @keyward/next/browser: the browser side. It holds no key: it asks the
// app's token route for a short-lived token bound to the signed-in user and
// the page's origin, and calls keyward with it. It never reads process.env
// and never imports the server entry.

import type OpenAI from "openai";

import { baseUrl } from "./contract.js";
import { errorFromBody, errorFromResponse, isRecord, KeywardError, statusOf } from "./errors.js";
import { sdkClass } from "./sdk.js";
import { readEvents } from "./sse.js";

export { KeywardConfigError, KeywardError, type KeywardErrorCode } from "./errors.js";
export { scrubError } from "./scrub.js";

/** The fetch @keyward/next/browser calls. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Options of createBrowserKeyward. */
export interface BrowserKeywardOptions {
  /** The app's token route (default "/api/keyward/token"), same-origin. */
  tokenUrl?: string;
  /** The fetch to use (default: the window's). */
  fetch?: Fetch;
  /** Get a new token this long before the current one expires (default 30; at most half its lifetime). */
  refreshMarginSeconds?: number;
  /** The clock, in milliseconds (default Date.now); for tests. */
  now?: () => number;
}

/** A browser token and where to use it. */
export interface BrowserToken {
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  /** keyward's base URL, without /v1. */
  url: string;
  expiresAt: Date;
  models: string[];
  maxOutputTokens: number | undefined;
}

/** A chat message as OpenAI's Chat Completions API takes it. */
export interface ChatMessage {
  role: "system" | "developer" | "user" | "assistant" | "tool" | (string & {});
  content: string | readonly unknown[] | null;
  [field: string]: unknown;
}

/** Options of streamChat. */
export interface StreamChatOptions {
  model: string;
  messages: readonly ChatMessage[];
  /** Stops the request and the stream. */
  signal?: AbortSignal;
  /** max_tokens of the request. */
  maxTokens?: number;
  /** Called with each piece of text as it arrives, and the text so far. */
  onDelta?: (delta: string, text: string) => void;
}

/** What createBrowserKeyward returns. */
export interface BrowserKeyward {
  /** A current token: cached, refreshed before it expires, one request however many callers wait. */
  getToken(options?: { forceRefresh?: boolean }): Promise<BrowserToken>;
  /** An OpenAI client for the browser whose every request carries the current token. */
  openai(): Promise<OpenAI>;
  /** Streams a chat completion and returns its whole text. */
  streamChat(options: StreamChatOptions): Promise<string>;
}

interface Cached extends BrowserToken {
  refreshAt: number;
}

/**
 * createBrowserKeyward returns the browser helpers. Nothing is fetched
 * until the first call.
 */
export function createBrowserKeyward(options: BrowserKeywardOptions = {}): BrowserKeyward {
  const tokenUrl = options.tokenUrl ?? "/api/keyward/token";
  // Called through a closure: the window's fetch refuses another `this`.
  const fetchFn: Fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? (() => Date.now());
  const marginMs = Math.max(0, (options.refreshMarginSeconds ?? 30) * 1000);

  let cached: Cached | undefined;
  let pending: Promise<Cached> | undefined;

  async function fetchToken(): Promise<Cached> {
    const started = now();
    let res: Response;
    try {
      res = await fetchFn(tokenUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch (e) {
      throw new KeywardError({ status: 503, code: "unavailable", message: "the token route could not be reached", cause: e });
    }
    if (!res.ok) {
      throw await errorFromResponse(res);
    }
    const bad = (what: string) =>
      new KeywardError({ status: 502, code: "internal_error", message: `the token route answered ${what}` });
    let got: unknown;
    try {
      got = await res.json();
    } catch {
      throw bad("a body that is not JSON");
    }
    if (
      !isRecord(got) ||
      typeof got["token"] !== "string" ||
      got["token"] === "" ||
      typeof got["url"] !== "string" ||
      typeof got["expires_at"] !== "string"
    ) {
      throw bad("without token, url and expires_at");
    }
    const expiresAt = new Date(got["expires_at"]);
    if (Number.isNaN(expiresAt.getTime())) {
      throw bad("an expires_at that is not a time");
    }
    // The lifetime is taken from expires_in when the route sends it, so a
    // browser clock that is off does not matter; else from expires_at.
    const expiresIn = got["expires_in"];
    const lifetime =
      typeof expiresIn === "number" && expiresIn > 0 ? expiresIn * 1000 : Math.max(0, expiresAt.getTime() - started);
    const margin = Math.min(marginMs, lifetime / 2);
    const models = Array.isArray(got["models"]) ? got["models"].filter((m): m is string => typeof m === "string") : [];
    const max = got["max_output_tokens"];
    return {
      token: got["token"],
      url: baseUrl(got["url"], "the token route's url"),
      expiresAt,
      models,
      maxOutputTokens: typeof max === "number" ? max : undefined,
      refreshAt: started + lifetime - margin,
    };
  }

  function current(forceRefresh: boolean): Promise<Cached> {
    if (!forceRefresh && cached !== undefined && now() < cached.refreshAt) {
      return Promise.resolve(cached);
    }
    if (pending === undefined) {
      const p = fetchToken().then(
        (t) => {
          cached = t;
          return t;
        },
      );
      pending = p;
      const clear = () => {
        if (pending === p) {
          pending = undefined;
        }
      };
      p.then(clear, clear);
    }
    return pending;
  }

  /** drop forgets a token keyward refused, unless a newer one replaced it already. */
  function drop(token: string): void {
    if (cached?.token === token) {
      cached = undefined;
    }
  }

  async function getToken(o: { forceRefresh?: boolean } = {}): Promise<BrowserToken> {
    const t = await current(o.forceRefresh === true);
    return { token: t.token, url: t.url, expiresAt: t.expiresAt, models: [...t.models], maxOutputTokens: t.maxOutputTokens };
  }

  /**
   * authFetch sends a request with the current token, and once more with a
   * fresh one if keyward answers 401 and the body can be sent again.
   */
  const authFetch: Fetch = async (input, init) => {
    const send = (token: string) => {
      const headers = new Headers(init?.headers);
      headers.set("Authorization", `Bearer ${token}`);
      return fetchFn(input, { ...init, headers });
    };
    const t = await current(false);
    const res = await send(t.token);
    if (res.status !== 401 || !replayable(input, init?.body)) {
      return res;
    }
    res.body?.cancel().catch(() => {});
    drop(t.token);
    return send((await current(false)).token);
  };

  let client: Promise<OpenAI> | undefined;

  async function buildOpenAI(): Promise<OpenAI> {
    const t = await current(false);
    // import() inside try: bundlers then treat openai as optional, and an
    // app that only uses streamChat builds without it.
    let mod: unknown;
    try {
      mod = await import("openai");
    } catch (e) {
      mod = { failed: e };
    }
    const OpenAIClass = sdkClass<typeof import("openai").default>(mod, "OpenAI", "openai() needs the openai package: npm install openai.");
    // The key given here is only a placeholder the SDK insists on:
    // authFetch sets the current token on every request.
    const clientOptions: Record<string, unknown> = {
      apiKey: "keyward-browser-token",
      baseURL: `${t.url}/v1`,
      dangerouslyAllowBrowser: true,
      adminAPIKey: null,
      organization: null,
      project: null,
      fetch: authFetch,
    };
    return new OpenAIClass(clientOptions as ConstructorParameters<typeof OpenAIClass>[0]);
  }

  async function streamChat(o: StreamChatOptions): Promise<string> {
    const body: Record<string, unknown> = { model: o.model, messages: o.messages, stream: true };
    if (o.maxTokens !== undefined) {
      body["max_tokens"] = o.maxTokens;
    }
    const payload = JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      const t = await current(false);
      const res = await fetchFn(`${t.url}/v1/chat/completions`, {
        method: "POST",
        headers: { Authorization: `Bearer ${t.token}`, "Content-Type": "application/json", Accept: "text/event-stream" },
        body: payload,
        ...(o.signal !== undefined && { signal: o.signal }),
      });
      if (res.status === 401 && attempt === 0) {
        res.body?.cancel().catch(() => {});
        drop(t.token);
        continue;
      }
      if (!res.ok) {
        throw await errorFromResponse(res);
      }
      if (res.body === null) {
        throw new KeywardError({ status: 502, code: "upstream_error", message: "keyward answered the stream with no body" });
      }
      const requestId = res.headers.get("x-request-id") ?? undefined;
      let text = "";
      let finished = false;
      let retry = false;
      for await (const ev of readEvents(res.body)) {
        if (ev.data === "[DONE]") {
          return text;
        }
        let chunk: unknown;
        try {
          chunk = JSON.parse(ev.data);
        } catch {
          throw new KeywardError({ status: 502, code: "upstream_error", message: "keyward sent a stream event that is not JSON", requestId });
        }
        if (isRecord(chunk) && chunk["error"] !== undefined) {
          const err =
            errorFromBody(chunk, undefined, requestId) ??
            new KeywardError({ status: statusOf("upstream_error"), code: "upstream_error", message: "the stream failed", requestId });
          if (err.code === "unauthorized" && text === "" && attempt === 0) {
            drop(t.token);
            retry = true;
            break;
          }
          throw err;
        }
        const choice = isRecord(chunk) && Array.isArray(chunk["choices"]) ? chunk["choices"][0] : undefined;
        if (!isRecord(choice)) {
          continue;
        }
        if (choice["finish_reason"] != null) {
          finished = true;
        }
        const delta = isRecord(choice["delta"]) ? choice["delta"]["content"] : undefined;
        if (typeof delta === "string" && delta !== "") {
          text += delta;
          o.onDelta?.(delta, text);
        }
      }
      if (retry) {
        continue;
      }
      if (finished) {
        return text; // a server that ends without [DONE]
      }
      throw new KeywardError({ status: 502, code: "upstream_error", message: "the stream ended before it was complete", requestId });
    }
  }

  return {
    getToken,
    openai() {
      if (client === undefined) {
        const made = buildOpenAI();
        client = made;
        made.catch(() => {
          if (client === made) {
            client = undefined;
          }
        });
      }
      return client;
    },
    streamChat,
  };
}

/** replayable reports whether a request can be sent twice: its body is not a one-shot stream. */
function replayable(input: string | URL | Request, body: unknown): boolean {
  if (typeof Request !== "undefined" && input instanceof Request) {
    return false;
  }
  return !(typeof ReadableStream !== "undefined" && body instanceof ReadableStream);
}
