// scrubError removes credentials from what an app is about to report: an
// Error, or a Sentry-style event. The shapes are those keyward's own
// redactor knows (internal/scan/rules, internal/redact); a false positive in
// an error report costs nothing, a key in one costs a rotation.

/** What a credential is replaced with. */
const redacted = "[REDACTED]";

/**
 * edge is the left edge of a prefixed key: the start of the text, a
 * character that cannot be part of a key, or an escape that ends right
 * before one ("%22sk-…" in a URL-encoded body, "\nsk-…" in a JSON string).
 * It is captured and put back, as JavaScript engines without lookbehind
 * would otherwise need.
 */
const edge = String.raw`(^|[^A-Za-z0-9_]|%[0-9A-Fa-f]{2}|\\[nrt])`;

/** The bodies of self-identifying keys, longest prefixes first. */
const prefixed = [
  String.raw`kw_(?:live|test)_[A-Za-z0-9]{16,}`, // keyward virtual keys (internal/vkey)
  String.raw`sk-ant-[A-Za-z0-9_-]{8,}`, // Anthropic
  String.raw`sk-[A-Za-z0-9_-]{20,}`, // OpenAI (sk-proj-, sk-svcacct-, sk-admin-…), DeepSeek, OpenRouter
  String.raw`sk_[A-Za-z0-9]{32,}`, // ElevenLabs
  String.raw`[sr]k_(?:live|test)_[A-Za-z0-9]{16,}`, // Stripe, Clerk
  String.raw`AIza[A-Za-z0-9_-]{20,}`, // Google
  String.raw`AQ\.[A-Za-z0-9_-]{30,}`, // Google (Gemini auth tokens)
  String.raw`gsk_[A-Za-z0-9]{20,}`, // Groq
  String.raw`xai-[A-Za-z0-9_-]{20,}`, // xAI
  String.raw`hf_[A-Za-z0-9]{20,}`, // Hugging Face
  String.raw`api_org_[A-Za-z0-9]{20,}`, // Hugging Face organizations
  String.raw`r8_[A-Za-z0-9]{20,}`, // Replicate
  String.raw`pplx-[A-Za-z0-9]{20,}`, // Perplexity
  String.raw`tgp_v1_[A-Za-z0-9_-]{20,}`, // Together
  String.raw`csk-[A-Za-z0-9]{20,}`, // Cerebras
  String.raw`fw_[A-Za-z0-9]{20,}`, // Fireworks
  String.raw`lsv2_(?:pt|sk)_[A-Za-z0-9_]{20,}`, // LangSmith
  String.raw`pcsk_[A-Za-z0-9_]{20,}`, // Pinecone
  String.raw`re_[A-Za-z0-9]{6,}_[A-Za-z0-9]{12,}`, // Resend
  String.raw`SG\.[A-Za-z0-9_-]{16,}(?:\.[A-Za-z0-9_-]*)?`, // SendGrid
  String.raw`(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}`, // GitHub
  String.raw`xox[abposr]-[A-Za-z0-9-]{10,}`, // Slack
  String.raw`xapp-[A-Za-z0-9-]{10,}`, // Slack app-level tokens
  String.raw`(?:AKIA|ASIA)[A-Z0-9]{16}\b`, // AWS access key ids
  String.raw`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`, // JWTs: keyward's browser tokens, Supabase keys
];

type Rule = [RegExp, (match: string, ...groups: string[]) => string];

const keepFirst = (_m: string, g1: string) => g1 + redacted;

/** The rules, in order: each rewrites what the ones before left. */
const rules: Rule[] = [
  // A private key block, also when cut short.
  [/-----BEGIN[A-Z ]*PRIVATE KEY[A-Z ]*-----[\s\S]*?(?:-----END[A-Z ]*PRIVATE KEY[A-Z ]*-----|$)/g, () => redacted],
  [new RegExp(edge + "(?:" + prefixed.join("|") + ")", "g"), keepFirst],
  // Credentials named by what precedes them.
  [/\b(bearer\s+)[^\s"'<>,;]+/gi, keepFirst],
  [
    /((?:x-api-key|api-key|x-goog-api-key|proxy-authorization|authorization)["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token)\s+)?)[^\s"',;}]{4,}/gi,
    keepFirst,
  ],
  [/((?:set-cookie|cookie)["']?\s*[:=]\s*["']?)[^\r\n"']+/gi, keepFirst],
  [
    /("(?:api[-_]?key|secret|client[-_]?secret|password|access[-_]?token|refresh[-_]?token|token)"\s*:\s*")[^"]+/gi,
    keepFirst,
  ],
  [
    /([?&;](?:key|api[-_]?key|access[-_]?token|token|secret|client[-_]?secret|sig|signature|password|x-goog-api-key)=)[^&\s"'<>#]+/gi,
    keepFirst,
  ],
  // A URL's password: scheme://user:PASSWORD@host.
  [/(:\/\/[^/\s:@]*:)[^@\s/]+(@)/g, (_m, g1, g2) => g1 + redacted + g2],
];

/** scrubString replaces every credential shape in s. */
export function scrubString(s: string): string {
  if (s.length < 8) {
    return s;
  }
  let out = s;
  for (const [re, replace] of rules) {
    re.lastIndex = 0;
    out = out.replace(re, replace);
  }
  return out;
}

/**
 * sensitiveName reports whether a field or header of that name holds a
 * credential whatever its value looks like. The end user's id
 * (x-keyward-user) is not one: it is kept.
 */
function sensitiveName(name: string): boolean {
  const n = name.toLowerCase().replace(/[-_\s]/g, "");
  if (exactSensitive.has(n)) {
    return true;
  }
  return sensitiveSuffixes.some((suffix) => n.endsWith(suffix));
}

const exactSensitive = new Set(["authorization", "proxyauthorization", "cookie", "cookies", "setcookie", "key", "sig", "signature"]);
const sensitiveSuffixes = ["apikey", "secret", "secretkey", "password", "passwd", "token", "privatekey", "serverkey", "mintkey", "adminkey", "servicerolekey"];

/** How deep scrubError walks before it replaces the rest. */
const maxDepth = 64;

/**
 * scrubError returns a copy of value with every credential it can find
 * replaced by "[REDACTED]": strings anywhere inside (messages, stacks,
 * exception values, request URLs, query strings, bodies, breadcrumbs,
 * extra), and the whole value of fields and headers such as Authorization,
 * X-Api-Key, Cookie and anything named like an API key, secret, password or
 * token. It takes an Error (the copy keeps its class), a Sentry event, or
 * any value; it never throws, copes with cycles, and leaves value
 * unchanged. Use it as Sentry's `beforeSend: scrubError`.
 */
export function scrubError<T>(value: T): T {
  try {
    return walk(value, new Map(), 0, false) as T;
  } catch {
    return fallback(value);
  }
}

function walk(v: unknown, seen: Map<object, unknown>, depth: number, secret: boolean): unknown {
  if (typeof v === "string") {
    return secret && v !== "" ? redacted : scrubString(v);
  }
  if (typeof v !== "object" || v === null) {
    return v;
  }
  const done = seen.get(v);
  if (done !== undefined) {
    return done;
  }
  if (depth >= maxDepth) {
    return "[Truncated]";
  }
  try {
    return walkObject(v, seen, depth + 1, secret);
  } catch {
    seen.set(v, redacted);
    return redacted;
  }
}

function walkObject(v: object, seen: Map<object, unknown>, depth: number, secret: boolean): unknown {
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    seen.set(v, out);
    // A [name, value] pair, as Sentry sends headers and query strings.
    const pairSecret = v.length === 2 && typeof v[0] === "string" && sensitiveName(v[0]);
    for (let i = 0; i < v.length; i++) {
      out.push(walk(v[i], seen, depth, secret || (pairSecret && i === 1)));
    }
    return out;
  }
  if (v instanceof Date || v instanceof RegExp || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
    return v;
  }
  if (typeof URL !== "undefined" && v instanceof URL) {
    const out = new URL(scrubString(v.href));
    seen.set(v, out);
    return out;
  }
  if (typeof Headers !== "undefined" && v instanceof Headers) {
    const out = new Headers();
    seen.set(v, out);
    v.forEach((value, name) => {
      out.append(name, secret || sensitiveName(name) ? redacted : scrubString(value));
    });
    return out;
  }
  if (v instanceof Map) {
    const out = new Map();
    seen.set(v, out);
    for (const [k, val] of v) {
      const name = typeof k === "string" ? k : "";
      out.set(walk(k, seen, depth, false), walk(val, seen, depth, secret || sensitiveName(name)));
    }
    return out;
  }
  if (v instanceof Set) {
    const out = new Set();
    seen.set(v, out);
    for (const val of v) {
      out.add(walk(val, seen, depth, secret));
    }
    return out;
  }
  if (typeof Request !== "undefined" && v instanceof Request) {
    // Its url and headers are getters on the prototype, which a reporter may
    // read: report what they hold, scrubbed, and nothing else.
    const out = { method: v.method, url: scrubString(v.url), headers: walk(v.headers, seen, depth, secret) };
    seen.set(v, out);
    return out;
  }
  if (typeof Response !== "undefined" && v instanceof Response) {
    const out = { status: v.status, url: scrubString(v.url), headers: walk(v.headers, seen, depth, secret) };
    seen.set(v, out);
    return out;
  }
  // Errors and other objects: a copy with the same prototype, so
  // instanceof and name still hold. An Error's message, stack and cause are
  // own properties that are not enumerable: they are copied as they were.
  const out = Object.create(Object.getPrototypeOf(v) as object | null) as Record<string, unknown>;
  seen.set(v, out);
  const names = v instanceof Error ? Object.getOwnPropertyNames(v) : Object.keys(v);
  if (v instanceof Error) {
    // Where the engine keeps the stack on the prototype, it is read and
    // copied all the same.
    for (const name of ["message", "stack"]) {
      if (!names.includes(name)) {
        let value: unknown;
        try {
          value = (v as unknown as Record<string, unknown>)[name];
        } catch {
          value = undefined;
        }
        if (typeof value === "string") {
          Object.defineProperty(out, name, { value: scrubString(value), enumerable: false, writable: true, configurable: true });
        }
      }
    }
  }
  for (const name of names) {
    const desc = Object.getOwnPropertyDescriptor(v, name);
    if (desc === undefined) {
      continue;
    }
    let value: unknown;
    try {
      value = "value" in desc ? desc.value : (v as Record<string, unknown>)[name];
    } catch {
      value = undefined;
    }
    Object.defineProperty(out, scrubString(name), {
      value: walk(value, seen, depth, secret || sensitiveName(name)),
      enumerable: desc.enumerable ?? true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** fallback is what scrubError answers for a value it could not walk: nothing of it. */
function fallback<T>(value: T): T {
  try {
    if (typeof value === "string") {
      return redacted as T;
    }
    if (value instanceof Error) {
      const out = Object.create(Object.getPrototypeOf(value) as object) as Error;
      Object.defineProperty(out, "message", { value: redacted, writable: true, configurable: true });
      Object.defineProperty(out, "stack", { value: redacted, writable: true, configurable: true });
      return out as T;
    }
    if (typeof value === "object" && value !== null) {
      return {} as T;
    }
  } catch {
    // Nothing more to try: below is the answer that holds no credential.
  }
  return (typeof value === "object" && value !== null ? {} : value) as T;
}
