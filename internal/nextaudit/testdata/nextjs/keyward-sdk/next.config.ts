import type { NextConfig } from "next";

// No env block: keyward's URL and keys are read at run time, on the server.
const nextConfig: NextConfig = {};

export default nextConfig;
