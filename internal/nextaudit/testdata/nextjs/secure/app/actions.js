"use server";
import { currentUser } from "@/lib/auth";
import { complete } from "@/lib/keyward";

export async function ask(_prev, formData) {
  const user = await currentUser();
  if (!user) return "Sign in first.";
  return complete(String(formData.get("question") ?? ""), user.id);
}
