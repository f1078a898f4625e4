// The parts of keyward's HTTP contract both entries check before they send
// anything: the shape of a user id and of keyward's base URL. Nothing here
// reads process.env.

import { KeywardConfigError } from "./errors.js";

/** The header that names the end user a server-key request is made for. */
export const userHeader = "X-Keyward-User";

const userIdPattern = /^[A-Za-z0-9][A-Za-z0-9._@:+|=-]{0,127}$/;

/**
 * checkUserId returns id if keyward accepts it as a user id (1-128
 * characters of letters, digits and . _ @ : + | = -, the first a letter or a
 * digit) and throws a TypeError saying so otherwise. The id itself is not
 * quoted in the error: it may be an e-mail address.
 */
export function checkUserId(id: unknown, what = "user id"): string {
  if (typeof id !== "string") {
    throw new TypeError(`@keyward/next: the ${what} must be a string, not ${id === null ? "null" : typeof id}.`);
  }
  if (!userIdPattern.test(id)) {
    throw new TypeError(
      `@keyward/next: the ${what} (${id.length} characters) is not a valid keyward user id: ` +
        "1-128 characters of letters, digits and . _ @ : + | = -, starting with a letter or a digit.",
    );
  }
  return id;
}

/**
 * baseUrl normalizes keyward's base URL, which never ends in /v1: the
 * OpenAI SDK gets `${base}/v1`, the Anthropic SDK `${base}` (it appends
 * /v1/messages itself). A trailing slash is dropped. variable names where
 * the value came from, for the error.
 */
export function baseUrl(raw: string, variable: string): string {
  const value = raw.trim();
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new KeywardConfigError([`${variable} is not a URL; it is keyward's base URL, such as http://127.0.0.1:8787.`], [variable]);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new KeywardConfigError([`${variable} must be an http or https URL.`], [variable]);
  }
  if (u.username !== "" || u.password !== "" || u.search !== "" || u.hash !== "") {
    throw new KeywardConfigError([`${variable} must be a plain base URL: no credentials, query or fragment.`], [variable]);
  }
  const path = u.pathname.replace(/\/+$/, "");
  if (/\/v1$/i.test(path)) {
    throw new KeywardConfigError(
      [
        `${variable} ends in /v1, but it is keyward's base URL without /v1 ` +
          `(${u.origin}${path.slice(0, -3)}): @keyward/next adds /v1 where each SDK needs it.`,
      ],
      [variable],
    );
  }
  return u.origin + path;
}

/** validOrigin reports whether s is an origin such as https://app.example.com (no path, no trailing slash). */
export function validOrigin(s: string): boolean {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return false;
  }
  return (u.protocol === "http:" || u.protocol === "https:") && u.origin === s;
}
