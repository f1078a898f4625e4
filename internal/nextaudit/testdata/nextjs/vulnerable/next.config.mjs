// Every entry of env is inlined into every bundle, the browser's too.
const nextConfig = {
  output: "standalone",
  env: {
    OPENAI_API_KEY: process.env.OPENAI_API_KEY ?? "",
  },
};

export default nextConfig;
