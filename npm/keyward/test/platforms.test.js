"use strict";
const assert = require("node:assert/strict");
const { test } = require("node:test");
const { platforms, binaryPath } = require("../lib/platforms.js");
const pkg = require("../package.json");

test("every platform package is an optional dependency at keyward's own version", () => {
  assert.deepEqual(Object.keys(pkg.optionalDependencies).sort(), Object.values(platforms).sort());
  for (const v of Object.values(pkg.optionalDependencies)) assert.equal(v, pkg.version);
});

test("the binary of this platform's package is found", () => {
  const seen = [];
  const p = binaryPath({ platform: "linux", arch: "x64", env: {}, resolve: (id) => (seen.push(id), `/nm/${id}`) });
  assert.equal(p, "/nm/@keyward/cli-linux-x64/bin/keyward");
  assert.equal(binaryPath({ platform: "win32", arch: "x64", env: {}, resolve: (id) => id }), "@keyward/cli-win32-x64/bin/keyward.exe");
});

test("KEYWARD_BINARY overrides", () => {
  assert.equal(binaryPath({ platform: "sunos", arch: "sparc", env: { KEYWARD_BINARY: "/opt/keyward" } }), "/opt/keyward");
});

test("an unsupported platform says what to do", () => {
  assert.throws(() => binaryPath({ platform: "freebsd", arch: "x64", env: {} }), /no prebuilt binary for freebsd-x64[\s\S]*go install/);
});

test("a skipped optional package says what to do", () => {
  const missing = () => {
    throw Object.assign(new Error("Cannot find module"), { code: "MODULE_NOT_FOUND" });
  };
  assert.throws(
    () => binaryPath({ platform: "darwin", arch: "arm64", env: {}, resolve: missing }),
    /@keyward\/cli-darwin-arm64, which is not installed[\s\S]*--include=optional/,
  );
});
