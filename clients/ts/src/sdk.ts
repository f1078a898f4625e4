// Finding an SDK's client class in a module loaded with import(), which
// the SDKs are: both are optional peer dependencies. Shared by both entries;
// nothing here reads process.env.

import { isRecord, KeywardConfigError } from "./errors.js";

/**
 * sdkClass finds an SDK's client class in what import() gave: the named
 * export, or the default one, however a bundler wrapped the module. A
 * bundler may answer a missing optional package with an empty module
 * rather than an error: both are the same KeywardConfigError.
 */
export function sdkClass<C>(mod: unknown, name: string, missing: string): C {
  const sdk = name === "OpenAI" ? "openai" : "@anthropic-ai/sdk";
  if (isRecord(mod) && "failed" in mod) {
    throw new KeywardConfigError([missing], [sdk], mod["failed"]);
  }
  const m = isRecord(mod) ? mod : {};
  const d = isRecord(m["default"]) || typeof m["default"] === "function" ? (m["default"] as Record<string, unknown>) : {};
  for (const c of [m[name], m["default"], d[name], d["default"]]) {
    if (typeof c === "function") {
      return c as C;
    }
  }
  throw new KeywardConfigError([missing], [sdk]);
}
