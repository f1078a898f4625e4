"use strict";
// Which package holds keyward's binary on which platform, and how the
// launcher finds it. One package per platform, each an optional dependency
// of keyward with os and cpu fields, so npm installs only the one that
// matches (no postinstall script, no download from anywhere but the npm
// registry).

/** Platform packages by `${process.platform}-${process.arch}`. */
const platforms = {
  "darwin-arm64": "@keyward/cli-darwin-arm64",
  "darwin-x64": "@keyward/cli-darwin-x64",
  "linux-arm64": "@keyward/cli-linux-arm64",
  "linux-x64": "@keyward/cli-linux-x64",
  "win32-x64": "@keyward/cli-win32-x64",
};

/** The binary's file name inside its package. */
function binaryName(platform) {
  return platform === "win32" ? "keyward.exe" : "keyward";
}

/**
 * binaryPath returns the path of the keyward binary for this platform, or
 * throws an Error whose message says what to do. KEYWARD_BINARY overrides
 * (a binary built from source, say).
 */
function binaryPath({ platform = process.platform, arch = process.arch, env = process.env, resolve = require.resolve } = {}) {
  if (env.KEYWARD_BINARY) return env.KEYWARD_BINARY;
  const key = `${platform}-${arch}`;
  const pkg = platforms[key];
  if (!pkg) {
    throw new Error(
      `keyward has no prebuilt binary for ${key} (there are: ${Object.keys(platforms).join(", ")}).\n` +
        "Build it from source with Go 1.26: go install github.com/keyward/keyward/cmd/keyward@latest,\n" +
        "then point KEYWARD_BINARY at it.",
    );
  }
  try {
    return resolve(`${pkg}/bin/${binaryName(platform)}`);
  } catch {
    throw new Error(
      `keyward's binary for ${key} is in the package ${pkg}, which is not installed.\n` +
        "npm installs it as an optional dependency of keyward; it is skipped with --no-optional or\n" +
        "--omit=optional, or when a lock file was made on another platform. Reinstall with optional\n" +
        `dependencies (npm install --include=optional), or add it yourself: npm install -D ${pkg}`,
    );
  }
}

module.exports = { platforms, binaryName, binaryPath };
