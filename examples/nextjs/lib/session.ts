import "server-only";
import { createHmac, timingSafeEqual } from "node:crypto";
import { cookies } from "next/headers";

// A toy session standing in for real auth (Auth.js, Clerk, …): a cookie
// holding the user id and an expiry, signed with SESSION_SECRET.

const cookieName = "session";
const maxAgeSeconds = 8 * 60 * 60;

function secret(): string {
  const s = process.env.SESSION_SECRET;
  if (!s || s.length < 32) {
    throw new Error("SESSION_SECRET must be set (32+ characters); npm run demo writes one to .env.local");
  }
  return s;
}

function sign(payload: string): string {
  return createHmac("sha256", secret()).update(payload).digest("base64url");
}

/** The user ids this demo accepts: what keyward accepts as a user. */
export function validUserId(id: unknown): id is string {
  return typeof id === "string" && /^[A-Za-z0-9][A-Za-z0-9._@:+|=-]{0,63}$/.test(id);
}

export function sessionCookie(user: string): { name: string; value: string; maxAge: number } {
  const payload = `${user}.${Math.floor(Date.now() / 1000) + maxAgeSeconds}`;
  return { name: cookieName, value: `${payload}.${sign(payload)}`, maxAge: maxAgeSeconds };
}

/** The signed-in user of a cookie value, or null. */
export function userOf(value: string | undefined): string | null {
  if (!value) return null;
  const cut = value.lastIndexOf(".");
  if (cut < 0) return null;
  const payload = value.slice(0, cut);
  const mac = Buffer.from(value.slice(cut + 1));
  const want = Buffer.from(sign(payload));
  if (mac.length !== want.length || !timingSafeEqual(mac, want)) return null;
  const dot = payload.lastIndexOf(".");
  const user = payload.slice(0, dot);
  const exp = Number(payload.slice(dot + 1));
  if (!validUserId(user) || !(exp > Date.now() / 1000)) return null;
  return user;
}

/** The signed-in user (Server Components and Server Actions). */
export async function currentUser(): Promise<string | null> {
  return userOf((await cookies()).get(cookieName)?.value);
}

/** The signed-in user of a Route Handler's request. */
export function userOfRequest(req: Request): string | null {
  const header = req.headers.get("cookie") ?? "";
  for (const part of header.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === cookieName) return userOf(decodeURIComponent(rest.join("=")));
  }
  return null;
}

export const sessionCookieName = cookieName;
