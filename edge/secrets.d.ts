// Secrets are not in wrangler.toml, so `wrangler types` cannot see them.
declare namespace Cloudflare {
  interface Env {
    /** The bootstrap admin token (`wrangler secret put EDGEFLEET_ADMIN_TOKEN`; `npm start` passes a local one). */
    EDGEFLEET_ADMIN_TOKEN?: string
  }
}
