// miniflare (the simulator under wrangler dev and vitest-pool-workers) with
// env.AI backed by edgeinfer: miniflare's own `ai` option, its remote-proxy
// connection string set to edgeinfer's address. README: "Use it with wrangler, Vite, vitest and workerd".
import path from "node:path";
import { after, before, describe } from "node:test";
import { Miniflare } from "miniflare";
import { compatDir, engineURL } from "./lib/edgeinfer.mjs";
import { chatHistoryCases, documentPipelineCases, serviceWorkerCases, streamingWorkerCases } from "./lib/scenarios.mjs";

function underMiniflare(file, extra, cases) {
  describe(`miniflare: ${file}`, () => {
    let mf;
    let url;
    before(async () => {
      mf = new Miniflare({
        modules: true,
        scriptPath: path.join(compatDir, "workers", file),
        compatibilityDate: "2025-01-01",
        host: "127.0.0.1",
        port: 0,
        ai: { binding: "AI", remoteProxyConnectionString: new URL(engineURL) },
        // Use miniflare's placeholder Request.cf instead of downloading one.
        cf: false,
        ...extra,
      });
      url = (await mf.ready).origin;
    });
    after(() => mf?.dispose());
    cases(() => url);
  });
}

underMiniflare("ai-service.js", {}, serviceWorkerCases);
underMiniflare("streaming-chat.js", {}, streamingWorkerCases);
underMiniflare("document-pipeline.js", {}, documentPipelineCases);
// miniflare's own KV simulator, in memory.
underMiniflare("chat-history.js", { kvNamespaces: ["HISTORY"] }, chatHistoryCases);
