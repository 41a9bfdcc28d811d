import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Under `edgeinfer dev`, env.AI is miniflare's own AI binding (workerd's
// genuine Ai class) sending its calls to edgeinfer; elsewhere, the remote
// binding the wrangler config declares.
const edgeinfer = process.env.EDGEINFER_URL;

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.jsonc" },
      ...(edgeinfer && {
        remoteBindings: false,
        miniflare: { ai: { binding: "AI", remoteProxyConnectionString: new URL(edgeinfer) } },
      }),
    }),
  ],
});
