// Unchanged Worker code under workerd, env.AI being workerd's own Workers AI
// binding (cloudflare-internal:ai-api) whose fetcher is edgeinfer, with the
// config `edgeinfer workerd-config` writes.
import { after, before, describe } from "node:test";
import { chatHistoryCases, documentPipelineCases, serviceWorkerCases, streamingWorkerCases } from "./lib/scenarios.mjs";
import { startWorkerd } from "./lib/workers.mjs";

function underWorkerd(file, options, cases) {
  describe(`workerd: ${file}`, () => {
    let worker;
    before(async () => (worker = await startWorkerd(file, options)));
    after(() => worker?.stop());
    cases(() => worker.url);
  });
}

underWorkerd("ai-service.js", {}, serviceWorkerCases);
underWorkerd("streaming-chat.js", {}, streamingWorkerCases);
underWorkerd("document-pipeline.js", {}, documentPipelineCases);
underWorkerd("chat-history.js", { kv: ["HISTORY"] }, chatHistoryCases);
