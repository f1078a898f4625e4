#!/usr/bin/env node
"use strict";
// Runs the keyward binary of this platform with this process's arguments,
// standard streams and environment, passes signals on, and exits as it does.
const { spawn } = require("node:child_process");
const { binaryPath } = require("../lib/platforms.js");

let bin;
try {
  bin = binaryPath();
} catch (err) {
  process.stderr.write(`keyward: ${err.message}\n`);
  process.exit(2);
}

const child = spawn(bin, process.argv.slice(2), { stdio: "inherit", windowsHide: true });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on("error", (err) => {
  process.stderr.write(`keyward: cannot run ${bin}: ${err.message}\n`);
  process.exit(2);
});
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
