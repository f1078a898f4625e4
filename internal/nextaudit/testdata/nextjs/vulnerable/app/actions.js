"use server";

export async function ask(key, formData) {
  return { ok: Boolean(key && formData) };
}
