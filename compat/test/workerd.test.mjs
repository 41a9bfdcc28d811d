// Unchanged Worker code under workerd, env.AI being workerd's own Workers AI
// binding (cloudflare-internal:ai-api) whose fetcher is edgeinfer, with the
// config `edgeinfer workerd-config` writes.
import assert from "node:assert/strict";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { edgeinferBin } from "./lib/edgeinfer.mjs";
import { postJSON } from "./lib/http.mjs";
import { freePort, start, waitForHTTP } from "./lib/procs.mjs";
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

// edgeinfer beyond loopback must have an API token; --token-env puts it on
// every binding request without writing it into the config.
describe("workerd: edgeinfer with an API token", () => {
  const token = "compat-test-token";
  let engine;
  let engineAddr;
  let home;
  before(async () => {
    // A second server needs its own home (its gateway state is per home);
    // it borrows the runtime and models of the one under test.
    home = await mkdtemp(path.join(os.tmpdir(), "edgeinfer-home-"));
    for (const dir of ["lib", "models"]) await symlink(path.join(process.env.EDGEINFER_HOME, dir), path.join(home, dir));
    engineAddr = `127.0.0.1:${await freePort()}`;
    engine = start(edgeinferBin, ["serve", "--addr", engineAddr, "--api-token", token], { env: { ...process.env, EDGEINFER_HOME: home } });
    await waitForHTTP(`http://${engineAddr}/healthz`, engine);
  });
  after(async () => {
    await engine?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  for (const [name, value, status] of [["the right token", token, 200], ["a wrong token", "wrong", 502]]) {
    it(`with ${name}`, async () => {
      const worker = await startWorkerd("ai-service.js", {
        engine: engineAddr,
        tokenEnv: "EDGEINFER_TEST_TOKEN",
        env: { ...process.env, EDGEINFER_TEST_TOKEN: value },
      });
      try {
        const { status: got, body } = await postJSON(`${worker.url}/embeddings`, { texts: ["hello"] });
        assert.equal(got, status, JSON.stringify(body));
        if (status !== 200) {
          assert.equal(body.class, "InferenceUpstreamError");
          assert.match(body.error, /^10000: Authentication error/);
        }
      } finally {
        await worker.stop();
      }
    });
  }
});
