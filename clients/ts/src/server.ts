// The server side of @keyward/next: SDK clients pointed at keyward, browser
// token minting, the token route, and protect. It reads process.env, at
// first use and never at import, so a module-scope createKeyward() costs
// nothing at `next build`. index.ts guards it with "server-only".

import type Anthropic from "@anthropic-ai/sdk";
import type OpenAI from "openai";

import { baseUrl, checkUserId, userHeader, validOrigin } from "./contract.js";
import {
  errorFromResponse,
  isRecord,
  KeywardConfigError,
  KeywardError,
  type KeywardErrorCode,
  typeOf,
  unreachable,
} from "./errors.js";
import { scrubString } from "./scrub.js";
import { sdkClass } from "./sdk.js";

/** The fetch @keyward/next calls, and hands to the SDKs. */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Options of createKeyward. Each falls back to an environment variable, read at first use. */
export interface KeywardOptions {
  /** keyward's base URL, without /v1 (default: KEYWARD_URL), such as http://127.0.0.1:8787. */
  url?: string;
  /** A keyward virtual key with the users:assert scope (default: KEYWARD_SERVER_KEY). */
  key?: string;
  /** A keyward virtual key with the tokens:mint scope (default: KEYWARD_MINT_KEY). */
  mintKey?: string;
  /** The fetch used to call keyward, also given to the SDKs (default: globalThis.fetch). */
  fetch?: Fetch;
  /** Where variables are read from (default: process.env); for tests. */
  env?: Record<string, string | undefined>;
  /**
   * Retries of the SDK clients (default 0). keyward already falls back
   * across provider keys and targets, and a refusal of its own (a user's
   * rate limit, a spent cap) is not worth waiting out in a request.
   */
  maxRetries?: number;
}

/** Options of mintBrowserToken: the claims of the token POST /v1/tokens signs. */
export interface MintOptions {
  /** The end user the token is for: 1-128 characters of letters, digits and . _ @ : + | = -. */
  user: string;
  /** The token's lifetime, 1 to keyward's auth.browser_tokens.max_ttl (at most 900). */
  ttlSeconds: number;
  /** The only origin the token is accepted from, such as https://app.example.com. */
  origin: string;
  /** The models the token may use (default: every model the minting key may use). */
  models?: readonly string[];
  /** A plan that narrows the minting key's (default: the key's). */
  plan?: string;
  /** A cap on output tokens per request, below the plan's. */
  maxOutputTokens?: number;
}

/** A minted browser token. */
export interface MintedToken {
  /** The token: the browser sends it as `Authorization: Bearer <token>`. */
  token: string;
  expiresAt: Date;
  models: string[];
  maxOutputTokens: number;
}

/** Options of tokenRoute. */
export interface TokenRouteOptions {
  /**
   * Who is asking: your session check. It returns the user id, or null or
   * undefined for a request that is not signed in (answered 401).
   */
  auth: (req: Request) => string | null | undefined | Promise<string | null | undefined>;
  /** The token's lifetime in seconds (default 300). */
  ttlSeconds?: number;
  /** The models the token may use (default: every model the minting key may use). */
  models?: readonly string[];
  /** A plan that narrows the minting key's. */
  plan?: string;
  /** A cap on output tokens per request. */
  maxOutputTokens?: number;
  /**
   * keyward's base URL as the browser reaches it (default: KEYWARD_PUBLIC_URL,
   * else KEYWARD_URL).
   */
  publicUrl?: string;
  /**
   * Origins that may ask for a token. Without it, a request the browser
   * marks cross-site (Sec-Fetch-Site) is refused.
   */
  allowedOrigins?: readonly string[];
}

/** Options of protect. */
export interface ProtectOptions {
  /** The end user the decision is for. */
  user: string;
  /** How many requests this one counts as, 1-1000 (default 1). */
  cost?: number;
  /** Ask what keyward would decide without counting (default false). */
  dryRun?: boolean;
  /** Allow when keyward cannot decide: unreachable, 5xx, unexpected answer (default false: deny). */
  failOpen?: boolean;
  /** How long to wait for keyward before it counts as unreachable (default 5000). */
  timeoutMs?: number;
}

/** Why a decision is what it is: "allowed", "no_limit", "unavailable", or a keyward code such as "rate_limited_requests". */
export type DecisionReason = "allowed" | "no_limit" | "unavailable" | KeywardErrorCode;

/** keyward's decision for one request of one user (POST /v1/decisions). */
export interface Decision {
  success: boolean;
  /** The request limit that applies (0: none). */
  limit: number;
  remaining: number;
  /** When the window resets, in Unix milliseconds (0: no limit). */
  reset: number;
  reason: DecisionReason;
}

/** The SDK clients of one end user: each request carries X-Keyward-User. */
export interface KeywardUser {
  readonly userId: string;
  /** An OpenAI client whose requests keyward counts against this user. */
  openai(): Promise<OpenAI>;
  /** An Anthropic client whose requests keyward counts against this user. */
  anthropic(): Promise<Anthropic>;
  /** protect for this user. */
  protect(req: Request, options?: Omit<ProtectOptions, "user">): Promise<Decision>;
}

/** What createKeyward returns. */
export interface Keyward {
  /** An OpenAI client with baseURL `${KEYWARD_URL}/v1` and the server key; built at first call. */
  openai(): Promise<OpenAI>;
  /** An Anthropic client with baseURL KEYWARD_URL and the server key; built at first call. */
  anthropic(): Promise<Anthropic>;
  /** The clients of one end user. Throws a TypeError for an id keyward would refuse. */
  forUser(userId: string): KeywardUser;
  mintBrowserToken(options: MintOptions): Promise<MintedToken>;
  tokenRoute(options: TokenRouteOptions): (req: Request) => Promise<Response>;
  protect(req: Request, options: ProtectOptions): Promise<Decision>;
}

/** Provider keys an app that uses keyward should not hold; their presence without a keyward key is refused. */
const providerVariables = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"];

/** A keyward virtual key: a prefix, 43 base62 characters and a 6-character checksum. */
const keywardKeyShape = /^kw_(?:live|test)_[0-9A-Za-z]{49}$/;

/** Shapes of provider keys that are never a keyward key. */
const providerShapes: Array<[RegExp, string]> = [
  [/^sk-ant-/, "an Anthropic"],
  [/^sk-(?:proj|svcacct|admin|service)-/, "an OpenAI"],
  [/^sk-[A-Za-z0-9]{20}T3BlbkFJ/, "an OpenAI"],
  [/^AIza[A-Za-z0-9_-]{35}$/, "a Google"],
  [/^gsk_[A-Za-z0-9]{52}$/, "a Groq"],
  [/^xai-[A-Za-z0-9_]{80}$/, "an xAI"],
];

type KeyKind = "server" | "mint";

const keySpecs: Record<KeyKind, { variable: string; option: string; scope: string }> = {
  server: { variable: "KEYWARD_SERVER_KEY", option: "key", scope: "users:assert" },
  mint: { variable: "KEYWARD_MINT_KEY", option: "mintKey", scope: "tokens:mint" },
};

/**
 * createKeyward returns the keyward helpers. It reads nothing until first
 * use, so `const kw = createKeyward()` at module scope is safe at build
 * time; a missing or wrong variable is a KeywardConfigError at the first
 * call that needs it.
 */
export function createKeyward(options: KeywardOptions = {}): Keyward {
  const fetchFn: Fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  function env(name: string): string | undefined {
    const source = options.env ?? (typeof process !== "undefined" ? process.env : {});
    const v = source[name]?.trim();
    return v === "" ? undefined : v;
  }

  /**
   * config returns keyward's URL and the key of that kind, or throws one
   * KeywardConfigError with every problem found.
   */
  function config(kind: KeyKind): { url: string; key: string } {
    const problems: string[] = [];
    const variables: string[] = [];
    const spec = keySpecs[kind];
    const fromOption = kind === "server" ? options.key : options.mintKey;
    const keyName = fromOption !== undefined ? `the ${spec.option} option` : spec.variable;
    const key = fromOption?.trim() || env(spec.variable);
    if (key === undefined) {
      const providers = providerVariables.filter((n) => env(n) !== undefined);
      if (providers.length > 0) {
        const list = providers.join(" and ");
        problems.push(
          `${list} ${providers.length > 1 ? "are" : "is"} set but ${spec.variable} is not: @keyward/next never falls back ` +
            `to a provider key. Set ${spec.variable} to a keyward virtual key with the ${spec.scope} scope, ` +
            `and remove ${list} from this app's environment (keyward holds the provider keys).`,
        );
      } else {
        problems.push(`${spec.variable} is not set: it is a keyward virtual key with the ${spec.scope} scope.`);
      }
      variables.push(spec.variable);
    } else {
      const shape = providerShapes.find(([re]) => re.test(key));
      const same = providerVariables.find((n) => env(n) === key);
      if (shape !== undefined || same !== undefined) {
        problems.push(
          `${keyName} holds ${shape !== undefined ? `${shape[1]} key` : `the value of ${same}`}, not a keyward key: ` +
            `@keyward/next never sends a provider key. Use a keyward virtual key with the ${spec.scope} scope.`,
        );
        variables.push(spec.variable);
      } else if (!keywardKeyShape.test(key)) {
        // Only keyward's own keys are ever sent: a provider key of a shape
        // not listed above (there are dozens) must not go out either.
        problems.push(
          `${keyName} is not a keyward virtual key (kw_live_… or kw_test_…, 57 characters): @keyward/next sends ` +
            `nothing else. Create one with the ${spec.scope} scope (keyward keys create --scope ${spec.scope}, or keyward init).`,
        );
        variables.push(spec.variable);
      }
    }
    let url: string | undefined;
    const rawUrl = options.url ?? env("KEYWARD_URL");
    if (rawUrl === undefined || rawUrl.trim() === "") {
      problems.push("KEYWARD_URL is not set: it is keyward's base URL without /v1, such as http://127.0.0.1:8787.");
      variables.push("KEYWARD_URL");
    } else {
      try {
        url = baseUrl(rawUrl, options.url !== undefined ? "the url option" : "KEYWARD_URL");
      } catch (e) {
        if (!(e instanceof KeywardConfigError)) {
          throw e;
        }
        problems.push(...e.problems);
        variables.push("KEYWARD_URL");
      }
    }
    if (problems.length > 0 || url === undefined || key === undefined) {
      throw new KeywardConfigError(problems, variables);
    }
    return { url, key };
  }

  /**
   * checkCustomHeaders refuses an SDK's *_CUSTOM_HEADERS variable that
   * would add a credential to every request the SDK sends to keyward.
   */
  function checkCustomHeaders(variable: string): void {
    // The SDK reads process.env whatever the env option says.
    const sdkEnv = typeof process !== "undefined" ? process.env[variable] : undefined;
    const v = [env(variable), sdkEnv].filter((x) => x !== undefined && x !== "").join("\n");
    if (v === "") {
      return;
    }
    if (/(^|\n)\s*(authorization|proxy-authorization|x-api-key|api-key)\s*:/i.test(v) || scrubString(v) !== v) {
      throw new KeywardConfigError(
        [`${variable} adds a credential header to every SDK request: @keyward/next sends only the keyward key. Remove it.`],
        [variable],
      );
    }
  }

  async function buildOpenAI(headers: Record<string, string>): Promise<OpenAI> {
    const { url, key } = config("server");
    checkCustomHeaders("OPENAI_CUSTOM_HEADERS");
    // import() inside try: bundlers (webpack, Turbopack) then treat the
    // package as optional, and an app that never calls this builds without it.
    let mod: unknown;
    try {
      mod = await import("openai");
    } catch (e) {
      mod = { failed: e };
    }
    const OpenAIClass = sdkClass<typeof import("openai").default>(
      mod,
      "OpenAI",
      "openai() needs the openai package: npm install openai.",
    );
    // Every credential and the base URL are passed explicitly, null where
    // unused, so the SDK reads none of OPENAI_API_KEY, OPENAI_ADMIN_KEY,
    // OPENAI_BASE_URL, OPENAI_ORG_ID or OPENAI_PROJECT_ID.
    const clientOptions: Record<string, unknown> = {
      apiKey: key,
      baseURL: `${url}/v1`,
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      defaultHeaders: headers,
      maxRetries: options.maxRetries ?? 0,
    };
    if (options.fetch !== undefined) {
      clientOptions["fetch"] = fetchFn;
    }
    return checkClient("openai", new OpenAIClass(clientOptions as ConstructorParameters<typeof OpenAIClass>[0]), `${url}/v1`, key);
  }

  async function buildAnthropic(headers: Record<string, string>): Promise<Anthropic> {
    const { url, key } = config("server");
    checkCustomHeaders("ANTHROPIC_CUSTOM_HEADERS");
    // import() inside try: bundlers (webpack, Turbopack) then treat the
    // package as optional, and an app that never calls this builds without it.
    let mod: unknown;
    try {
      mod = await import("@anthropic-ai/sdk");
    } catch (e) {
      mod = { failed: e };
    }
    const AnthropicClass = sdkClass<typeof import("@anthropic-ai/sdk").default>(
      mod,
      "Anthropic",
      "anthropic() needs the @anthropic-ai/sdk package: npm install @anthropic-ai/sdk.",
    );
    // apiKey makes it the client's only credential: the SDK then reads
    // neither ANTHROPIC_API_KEY nor ANTHROPIC_AUTH_TOKEN; baseURL keeps it
    // off ANTHROPIC_BASE_URL. The SDK appends /v1/messages itself.
    const clientOptions: Record<string, unknown> = {
      apiKey: key,
      authToken: null,
      baseURL: url,
      webhookKey: null,
      defaultHeaders: headers,
      maxRetries: options.maxRetries ?? 0,
    };
    if (options.fetch !== undefined) {
      clientOptions["fetch"] = fetchFn;
    }
    return checkClient("@anthropic-ai/sdk", new AnthropicClass(clientOptions as ConstructorParameters<typeof AnthropicClass>[0]), url, key);
  }

  async function mintBrowserToken(o: MintOptions): Promise<MintedToken> {
    const body = mintBody(o);
    const { url, key } = config("mint");
    let res: Response;
    try {
      res = await fetchFn(`${url}/v1/tokens`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        cache: "no-store",
      });
    } catch (e) {
      throw unreachable("POST /v1/tokens", e);
    }
    if (!res.ok) {
      throw await errorFromResponse(res);
    }
    const requestId = res.headers.get("x-request-id") ?? undefined;
    const bad = (what: string) =>
      new KeywardError({ status: 502, code: "internal_error", message: `POST /v1/tokens answered ${what}`, requestId });
    let got: unknown;
    try {
      got = await res.json();
    } catch {
      throw bad("a body that is not JSON");
    }
    if (!isRecord(got) || typeof got["token"] !== "string" || got["token"] === "" || typeof got["expires_at"] !== "string") {
      throw bad("without token and expires_at");
    }
    const expiresAt = new Date(got["expires_at"]);
    if (Number.isNaN(expiresAt.getTime())) {
      throw bad("an expires_at that is not a time");
    }
    const models = Array.isArray(got["models"]) ? got["models"].filter((m): m is string => typeof m === "string") : [];
    const maxOutputTokens = typeof got["max_output_tokens"] === "number" ? got["max_output_tokens"] : 0;
    return { token: got["token"], expiresAt, models, maxOutputTokens };
  }

  function tokenRoute(o: TokenRouteOptions): (req: Request) => Promise<Response> {
    if (typeof o?.auth !== "function") {
      throw new TypeError("@keyward/next: tokenRoute needs an auth function that returns the signed-in user's id, or null.");
    }
    const ttlSeconds = o.ttlSeconds ?? 300;
    checkTtl(ttlSeconds);
    const allowed = o.allowedOrigins === undefined ? undefined : new Set(o.allowedOrigins);
    return async (req: Request): Promise<Response> => {
      if (req.method !== "POST") {
        return jsonResponse(405, errorBody("method_not_allowed", "Use POST."), { Allow: "POST" });
      }
      const user = await o.auth(req);
      if (user === null || user === undefined || user === "") {
        return jsonResponse(401, errorBody("unauthorized", "Sign in to get an AI token."));
      }
      const origin = req.headers.get("origin");
      if (origin === null || !validOrigin(origin)) {
        return jsonResponse(
          400,
          errorBody("invalid_request", "The request has no usable Origin header; the token is bound to the page's origin, which browsers send on POST."),
        );
      }
      const crossSite = (req.headers.get("sec-fetch-site") ?? "same-origin") !== "same-origin";
      if (allowed !== undefined ? !allowed.has(origin) : crossSite) {
        return jsonResponse(403, errorBody("origin_not_allowed", "This origin may not ask for a token."));
      }
      const url = publicUrl(o.publicUrl);
      let t: MintedToken;
      try {
        t = await mintBrowserToken({
          user,
          ttlSeconds,
          origin,
          ...(o.models !== undefined && { models: o.models }),
          ...(o.plan !== undefined && { plan: o.plan }),
          ...(o.maxOutputTokens !== undefined && { maxOutputTokens: o.maxOutputTokens }),
        });
      } catch (e) {
        if (e instanceof KeywardError) {
          const status = e.status >= 400 && e.status <= 599 ? e.status : 502;
          return jsonResponse(status, errorBody(e.code, e.message, e.requestId), e.requestId ? { "X-Request-Id": e.requestId } : {});
        }
        throw e;
      }
      return jsonResponse(200, {
        token: t.token,
        expires_at: t.expiresAt.toISOString(),
        // The lifetime, for a browser whose clock is not keyward's.
        expires_in: ttlSeconds,
        url,
        models: t.models,
        max_output_tokens: t.maxOutputTokens,
      });
    };
  }

  /** publicUrl is keyward's base URL as the browser reaches it. */
  function publicUrl(option: string | undefined): string {
    if (option !== undefined) {
      return baseUrl(option, "the publicUrl option");
    }
    const pub = env("KEYWARD_PUBLIC_URL");
    if (pub !== undefined) {
      return baseUrl(pub, "KEYWARD_PUBLIC_URL");
    }
    if (options.url !== undefined) {
      return baseUrl(options.url, "the url option");
    }
    const url = env("KEYWARD_URL");
    if (url === undefined) {
      throw new KeywardConfigError(
        ["Neither KEYWARD_PUBLIC_URL nor KEYWARD_URL is set: the browser needs keyward's base URL."],
        ["KEYWARD_PUBLIC_URL", "KEYWARD_URL"],
      );
    }
    return baseUrl(url, "KEYWARD_URL");
  }

  async function protect(_req: Request, o: ProtectOptions): Promise<Decision> {
    const user = checkUserId(o?.user);
    const cost = o.cost ?? 1;
    if (!Number.isInteger(cost) || cost < 1 || cost > 1000) {
      throw new TypeError("@keyward/next: protect's cost must be an integer from 1 to 1000.");
    }
    const timeoutMs = o.timeoutMs ?? 5000;
    const { url, key } = config("server");
    const cannotDecide = (): Decision => ({ success: o.failOpen === true, limit: 0, remaining: 0, reset: 0, reason: "unavailable" });
    let res: Response;
    try {
      res = await fetchFn(`${url}/v1/decisions`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${key}`,
          [userHeader]: user,
          "Content-Type": "application/json",
          Accept: "application/json",
        },
        body: JSON.stringify({ cost, dry_run: o.dryRun === true }),
        cache: "no-store",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch {
      return cannotDecide();
    }
    if (res.status >= 500) {
      res.body?.cancel().catch(() => {});
      return cannotDecide();
    }
    if (!res.ok) {
      // A refusal, not an outage: the user is disabled, or the key may not
      // ask (403), or it is not a key (401). failOpen does not apply.
      const err = await errorFromResponse(res);
      return { success: false, limit: 0, remaining: 0, reset: 0, reason: err.code };
    }
    let got: unknown;
    try {
      got = await res.json();
    } catch {
      return cannotDecide();
    }
    if (
      !isRecord(got) ||
      typeof got["success"] !== "boolean" ||
      typeof got["reason"] !== "string" ||
      !isCount(got["limit"]) ||
      !isCount(got["remaining"]) ||
      !isCount(got["reset"])
    ) {
      return cannotDecide();
    }
    return { success: got["success"], limit: got["limit"], remaining: got["remaining"], reset: got["reset"], reason: got["reason"] };
  }

  const openai = lazy(() => buildOpenAI({}));
  const anthropic = lazy(() => buildAnthropic({}));

  return {
    openai,
    anthropic,
    forUser(userId: string): KeywardUser {
      const id = checkUserId(userId);
      const headers = { [userHeader]: id };
      return {
        userId: id,
        openai: lazy(() => buildOpenAI(headers)),
        anthropic: lazy(() => buildAnthropic(headers)),
        protect: (req, rest = {}) => protect(req, { ...rest, user: id }),
      };
    },
    mintBrowserToken,
    tokenRoute,
    protect,
  };
}

/**
 * checkClient makes sure an SDK client ended up with keyward's URL and key:
 * a future SDK version that let an environment variable override either
 * is refused rather than trusted.
 */
function checkClient<C extends { baseURL: string; apiKey: string | null }>(sdk: string, client: C, url: string, key: string): C {
  if (client.baseURL.replace(/\/+$/, "") !== url || client.apiKey !== key) {
    throw new KeywardConfigError(
      [`the ${sdk} client did not take keyward's base URL and key as given (an environment variable may override them in this SDK version).`],
      [sdk],
    );
  }
  return client;
}

/** mintBody checks mint options and returns the body of POST /v1/tokens. */
function mintBody(o: MintOptions): Record<string, unknown> {
  const user = checkUserId(o?.user);
  checkTtl(o.ttlSeconds);
  if (typeof o.origin !== "string" || !validOrigin(o.origin)) {
    throw new TypeError("@keyward/next: origin must be an origin such as https://app.example.com (no path, no trailing slash).");
  }
  const body: Record<string, unknown> = { user, ttl_seconds: o.ttlSeconds, origin: o.origin };
  if (o.models !== undefined) {
    if (!Array.isArray(o.models) || o.models.some((m) => typeof m !== "string" || m === "")) {
      throw new TypeError("@keyward/next: models must be a list of model names.");
    }
    body["models"] = [...o.models];
  }
  if (o.plan !== undefined) {
    body["plan"] = o.plan;
  }
  if (o.maxOutputTokens !== undefined) {
    if (!Number.isInteger(o.maxOutputTokens) || o.maxOutputTokens < 1) {
      throw new TypeError("@keyward/next: maxOutputTokens must be a positive integer.");
    }
    body["max_output_tokens"] = o.maxOutputTokens;
  }
  return body;
}

function checkTtl(ttl: unknown): void {
  if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 1 || ttl > 900) {
    throw new TypeError("@keyward/next: ttlSeconds must be an integer from 1 to 900 (keyward's longest token lifetime is 15 minutes).");
  }
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}

/** errorBody is keyward's OpenAI-shaped error body, for the token route's own answers. */
function errorBody(code: KeywardErrorCode, message: string, requestId?: string): unknown {
  return {
    error: { message, type: typeOf(code), param: null, code, ...(requestId !== undefined && { request_id: requestId }) },
  };
}

/** jsonResponse answers JSON that no cache keeps. */
function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      ...headers,
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    },
  });
}

/**
 * lazy returns a function that makes its value at the first call and
 * answers the same promise after; a failure is not kept, so the next call
 * tries again (after the environment is fixed, say).
 */
function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    if (p === undefined) {
      const made = make();
      p = made;
      made.catch(() => {
        if (p === made) {
          p = undefined;
        }
      });
    }
    return p;
  };
}

let defaultInstance: Keyward | undefined;

/** The instance the standalone helpers use: createKeyward() with the environment. */
function defaults(): Keyward {
  return (defaultInstance ??= createKeyward());
}

/** mintBrowserToken mints a browser token with KEYWARD_URL and KEYWARD_MINT_KEY (see Keyward.mintBrowserToken). */
export function mintBrowserToken(options: MintOptions): Promise<MintedToken> {
  return defaults().mintBrowserToken(options);
}

/** tokenRoute is a Route Handler that mints a token for the signed-in user (see Keyward.tokenRoute). */
export function tokenRoute(options: TokenRouteOptions): (req: Request) => Promise<Response> {
  return defaults().tokenRoute(options);
}

/** protect asks keyward whether a user's request may go ahead (see Keyward.protect). */
export function protect(req: Request, options: ProtectOptions): Promise<Decision> {
  return defaults().protect(req, options);
}
