import { kw } from "@/lib/keyward";
import { userOfRequest } from "@/lib/session";

// Mints a 5-minute browser token for the signed-in user, bound to the
// page's origin, for the model "fast" on the free plan. A request that is
// not signed in gets 401: the token route is never an open relay.
export const POST = kw.tokenRoute({
  auth: (req) => userOfRequest(req),
  ttlSeconds: 300,
  models: ["fast"],
  plan: "free",
});
