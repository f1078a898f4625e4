// The errors @keyward/next raises, and the reading of keyward's error bodies
// into them. Shared by the server and the browser entry: nothing here reads
// process.env.

import { scrubString } from "./scrub.js";

/**
 * The closed set of codes keyward answers with (internal/apierr), with the
 * HTTP status and the OpenAI error type of each. A code that arrives in an
 * error event mid-stream has no response status of its own: this table gives
 * it one.
 */
const codes = {
  invalid_request: [400, "invalid_request_error"],
  invalid_json: [400, "invalid_request_error"],
  model_required: [400, "invalid_request_error"],
  model_not_found: [400, "invalid_request_error"],
  model_not_supported_on_route: [400, "invalid_request_error"],
  max_tokens_exceeded: [400, "invalid_request_error"],
  unsupported_media_type: [415, "invalid_request_error"],
  payload_too_large: [413, "invalid_request_error"],
  prompt_too_large: [413, "invalid_request_error"],
  unauthorized: [401, "authentication_error"],
  forbidden: [403, "permission_error"],
  forbidden_model: [403, "permission_error"],
  forbidden_route: [403, "permission_error"],
  not_found: [404, "not_found_error"],
  method_not_allowed: [405, "invalid_request_error"],
  rate_limited: [429, "rate_limit_error"],
  rate_limited_requests: [429, "rate_limit_error"],
  rate_limited_tokens: [429, "rate_limit_error"],
  rate_limited_concurrency: [429, "rate_limit_error"],
  tokens_over_limit: [413, "invalid_request_error"],
  insufficient_quota: [429, "insufficient_quota"],
  model_not_priced: [403, "permission_error"],
  cost_not_bounded: [403, "permission_error"],
  upstream_bad_request: [400, "invalid_request_error"],
  upstream_rate_limited: [429, "rate_limit_error"],
  upstream_auth_failed: [502, "server_error"],
  upstream_error: [502, "server_error"],
  upstream_unavailable: [503, "server_error"],
  upstream_timeout: [504, "timeout_error"],
  shutting_down: [503, "server_error"],
  origin_not_allowed: [403, "permission_error"],
  unavailable: [503, "server_error"],
  internal_error: [500, "server_error"],
} as const satisfies Record<string, readonly [number, string]>;

/** A code keyward may answer with; other strings are possible from newer servers. */
export type KeywardErrorCode = keyof typeof codes | (string & {});

function known(code: string): code is keyof typeof codes {
  return Object.prototype.hasOwnProperty.call(codes, code);
}

/** statusOf is the HTTP status keyward gives a code (500 for an unknown one). */
export function statusOf(code: string): number {
  return known(code) ? codes[code][0] : 500;
}

/** typeOf is the OpenAI error type keyward gives a code. */
export function typeOf(code: string): string {
  return known(code) ? codes[code][1] : "server_error";
}

/** codeForStatus names a response that carried no keyward error body. */
function codeForStatus(status: number): KeywardErrorCode {
  switch (status) {
    case 400:
      return "invalid_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 429:
      return "rate_limited";
    case 504:
      return "upstream_timeout";
  }
  return status >= 500 ? "unavailable" : "invalid_request";
}

/** What a KeywardError is built from. */
export interface KeywardErrorInit {
  status: number;
  code: KeywardErrorCode;
  message: string;
  requestId?: string | undefined;
  cause?: unknown;
}

/**
 * KeywardError is an error keyward answered (or, with status 503 and code
 * "unavailable", keyward could not be reached). `code` is one of keyward's
 * stable codes; `requestId` is keyward's X-Request-Id, for its logs.
 */
export class KeywardError extends Error {
  override readonly name = "KeywardError";
  /** The HTTP status keyward answered (or would answer, for a mid-stream error). */
  readonly status: number;
  /** keyward's stable error code, such as "rate_limited_requests". */
  readonly code: KeywardErrorCode;
  /** keyward's request id (X-Request-Id), when there was one. */
  readonly requestId: string | undefined;

  constructor(init: KeywardErrorInit) {
    super(scrubString(init.message), init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
  }
}

/**
 * KeywardConfigError says the app is not set up to talk to keyward: a
 * variable is missing or wrong, or a provider key is where a keyward key
 * should be. `variables` names what to fix.
 */
export class KeywardConfigError extends Error {
  override readonly name = "KeywardConfigError";
  /** The environment variables (or options) the problems are about. */
  readonly variables: readonly string[];
  /** Each problem, one sentence each; the message joins them. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[], variables: readonly string[], cause?: unknown) {
    super(
      problems.length === 1
        ? `@keyward/next: ${problems[0]}`
        : `@keyward/next: ${problems.length} problems: ${problems.join(" ")}`,
      cause === undefined ? undefined : { cause },
    );
    this.problems = problems;
    this.variables = variables;
  }
}

/** The largest error body read; keyward's are a few hundred bytes. */
const maxErrorBody = 64 << 10;

/**
 * errorFromBody reads keyward's error body of either shape: OpenAI's
 * {"error":{message,type,param,code,request_id}} or Anthropic's
 * {"type":"error","error":{type,message,code},"request_id"}. It answers
 * undefined for a body that is neither.
 */
export function errorFromBody(
  body: unknown,
  status: number | undefined,
  requestId: string | undefined,
): KeywardError | undefined {
  if (!isRecord(body) || !isRecord(body["error"])) {
    return undefined;
  }
  const e = body["error"];
  const code = typeof e["code"] === "string" && e["code"] !== "" ? e["code"] : undefined;
  const message = typeof e["message"] === "string" ? e["message"] : undefined;
  if (code === undefined && message === undefined) {
    return undefined;
  }
  const c = code ?? codeForStatus(status ?? 500);
  const id =
    requestId ??
    (typeof e["request_id"] === "string" ? e["request_id"] : undefined) ??
    (typeof body["request_id"] === "string" ? body["request_id"] : undefined);
  return new KeywardError({ status: status ?? statusOf(c), code: c, message: message ?? c, requestId: id || undefined });
}

/**
 * errorFromResponse turns a non-2xx response into a KeywardError. A body
 * that is not keyward's (a proxy's HTML page, say) is not quoted: only its
 * status is kept.
 */
export async function errorFromResponse(res: Response): Promise<KeywardError> {
  const requestId = res.headers.get("x-request-id") ?? undefined;
  let body: unknown;
  try {
    const text = await readText(res, maxErrorBody);
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return (
    errorFromBody(body, res.status, requestId) ??
    new KeywardError({
      status: res.status,
      code: codeForStatus(res.status),
      message: `keyward answered HTTP ${res.status} without an error body`,
      requestId,
    })
  );
}

/** unreachable is the error for a request that never got an answer. */
export function unreachable(what: string, cause: unknown): KeywardError {
  return new KeywardError({
    status: 503,
    code: "unavailable",
    message: `${what}: keyward could not be reached`,
    cause,
  });
}

/** readText reads at most limit bytes of a body, cancelling the rest. */
async function readText(res: Response, limit: number): Promise<string> {
  if (res.body === null) {
    return "";
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let out = "";
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      n += value.byteLength;
      if (n > limit) {
        throw new Error("error body too large");
      }
      out += decoder.decode(value, { stream: true });
    }
    return out + decoder.decode();
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** isRecord reports whether v is a non-null, non-array object. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
