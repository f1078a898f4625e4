import { tokenRoute } from "@keyward/next";
import { auth } from "@/lib/auth";

// Gives the signed-in user a five-minute keyward token bound to the page's
// origin; anyone else gets a 401.
export const POST = tokenRoute({
  auth: async () => (await auth())?.id ?? null,
  models: ["fast"],
  ttlSeconds: 300,
});
