// No env block: server secrets are read at runtime, on the server.
const nextConfig = {};

export default nextConfig;
