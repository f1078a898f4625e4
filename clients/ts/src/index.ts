import "server-only";

// @keyward/next: the server entry. It holds keyward keys, so it refuses to
// be bundled for the browser ("server-only"); the browser has
// @keyward/next/browser.

export {
  createKeyward,
  mintBrowserToken,
  protect,
  tokenRoute,
  type Decision,
  type DecisionReason,
  type Fetch,
  type Keyward,
  type KeywardOptions,
  type KeywardUser,
  type MintedToken,
  type MintOptions,
  type ProtectOptions,
  type TokenRouteOptions,
} from "./server.js";
export { KeywardConfigError, KeywardError, type KeywardErrorCode } from "./errors.js";
export { scrubError } from "./scrub.js";
