import path from "node:path";
import type { NextConfig } from "next";

const config: NextConfig = {
  // @keyward/next is linked from ../../clients/ts in this repository.
  turbopack: { root: path.join(__dirname, "../..") },
  outputFileTracingRoot: path.join(__dirname, "../.."),
  poweredByHeader: false,
};

export default config;
