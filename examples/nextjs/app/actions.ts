"use server";

import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { sessionCookie, sessionCookieName, validUserId } from "@/lib/session";

/** Signs in as any user id: the toy stand-in for your real auth. */
export async function signIn(form: FormData): Promise<void> {
  const user = form.get("user");
  const next = form.get("next");
  if (!validUserId(user)) {
    redirect("/?error=invalid_user");
  }
  const c = sessionCookie(user);
  (await cookies()).set(c.name, c.value, { httpOnly: true, sameSite: "lax", path: "/", maxAge: c.maxAge });
  redirect(typeof next === "string" && next.startsWith("/") && !next.startsWith("//") ? next : "/");
}

export async function signOut(): Promise<void> {
  (await cookies()).delete(sessionCookieName);
  redirect("/");
}
