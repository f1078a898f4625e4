// withProcessEnv sets process.env variables for the length of one test:
// the SDKs read process.env themselves, whatever createKeyward's env
// option says.

/** withProcessEnv runs fn with vars set (undefined: unset) and restores process.env after. */
export async function withProcessEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(vars)) {
    saved.set(k, process.env[k]);
    if (v === undefined) {
      delete process.env[k];
    } else {
      process.env[k] = v;
    }
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) {
        delete process.env[k];
      } else {
        process.env[k] = v;
      }
    }
  }
}

/** The variables @keyward/next and the SDKs read, all unset. */
export const cleanEnv: Record<string, undefined> = {
  KEYWARD_URL: undefined,
  KEYWARD_PUBLIC_URL: undefined,
  KEYWARD_SERVER_KEY: undefined,
  KEYWARD_MINT_KEY: undefined,
  OPENAI_API_KEY: undefined,
  OPENAI_BASE_URL: undefined,
  OPENAI_ADMIN_KEY: undefined,
  OPENAI_ORG_ID: undefined,
  OPENAI_PROJECT_ID: undefined,
  OPENAI_CUSTOM_HEADERS: undefined,
  ANTHROPIC_API_KEY: undefined,
  ANTHROPIC_AUTH_TOKEN: undefined,
  ANTHROPIC_BASE_URL: undefined,
  ANTHROPIC_CUSTOM_HEADERS: undefined,
};
