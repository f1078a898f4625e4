// Fake credentials, built at run time. No key-shaped literal is written in
// this repository (keyward's own scanner runs on it): every key below is a
// prefix and random characters put together when the tests run.

import { randomInt } from "node:crypto";

export const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const lowerNum = "0123456789abcdefghijklmnopqrstuvwxyz";
export const hexLower = "0123456789abcdef";
export const upperNum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
export const urlSafe = base62 + "-_";

/** randomString is n characters drawn from alphabet. */
export function randomString(alphabet: string, n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) {
    out += alphabet[randomInt(alphabet.length)];
  }
  return out;
}

/** join puts a key together from its pieces, so the source never holds it whole. */
export function join(...pieces: string[]): string {
  return pieces.join("");
}

/** fakeKeywardKey is shaped like a keyward virtual key (internal/vkey): prefix, 43 + 6 base62. */
export function fakeKeywardKey(kind: "live" | "test"): string {
  return join("kw", "_", kind, "_", randomString(base62, 49));
}

/** fakeOpenAIKey is shaped like an OpenAI project key. */
export function fakeOpenAIKey(): string {
  return join("sk", "-proj-", randomString(urlSafe, 74), "T3Blbk", "FJ", randomString(urlSafe, 74));
}

/** fakeAnthropicKey is shaped like an Anthropic API key. */
export function fakeAnthropicKey(): string {
  return join("sk", "-ant-", "api03-", randomString(urlSafe, 93), "AA");
}
