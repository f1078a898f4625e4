import "server-only";
import { createKeyward } from "@keyward/next";

// One keyward client for the whole app. It reads KEYWARD_URL,
// KEYWARD_SERVER_KEY and KEYWARD_MINT_KEY at first use, so `next build`
// needs none of them.
export const kw = createKeyward();
