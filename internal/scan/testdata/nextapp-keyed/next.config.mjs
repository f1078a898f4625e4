/** @type {import('next').NextConfig} */
// Browser source maps on, so keyward can name the file a leaked key came from.
const nextConfig = { productionBrowserSourceMaps: true };
export default nextConfig;
