// wrangler dev (3.x) with the Cloudflare API base pointed at edgeinfer: its
// AI binding forwards every env.AI call to
// POST {CLOUDFLARE_API_BASE_URL}/accounts/{id}/ai/run/proxy, which edgeinfer
// serves. No `wrangler login`: the account ID and a placeholder token come
// from the environment, and the wrangler config folder starts empty.
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { accountId, compatDir, engineURL } from "./lib/edgeinfer.mjs";
import { postJSON } from "./lib/http.mjs";
import { freePort, start, waitForHTTP } from "./lib/procs.mjs";
import { startRecorder } from "./lib/recorder.mjs";
import { chatHistoryCases, documentPipelineCases, serviceWorkerCases, streamingWorkerCases } from "./lib/scenarios.mjs";

const wranglerBin = path.join(compatDir, "node_modules", ".bin", "wrangler");

describe("wrangler dev", () => {
  let dir;
  let proc;
  let url;
  let recorder;

  before(async () => {
    recorder = await startRecorder();
    // wrangler writes .wrangler/ beside its config: work on a copy.
    dir = await mkdtemp(path.join(os.tmpdir(), "edgeinfer-wrangler-"));
    await cp(path.join(compatDir, "workers"), path.join(dir, "workers"), { recursive: true });
    await cp(path.join(compatDir, "wrangler"), path.join(dir, "wrangler"), { recursive: true });
    await mkdir(path.join(dir, "config"));
    const [port, inspectorPort] = [await freePort(), await freePort()];
    proc = start(
      wranglerBin,
      ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
        "--persist-to", path.join(dir, "state"), "--show-interactive-dev-session=false", "--log-level", "info"],
      {
        cwd: path.join(dir, "wrangler"),
        env: {
          ...process.env,
          CLOUDFLARE_API_BASE_URL: `${recorder.url}/client/v4`,
          CLOUDFLARE_ACCOUNT_ID: accountId,
          CLOUDFLARE_API_TOKEN: "placeholder-edgeinfer-ignores-it",
          // An empty config folder: no stored login to fall back on.
          XDG_CONFIG_HOME: path.join(dir, "config"),
          // Keep every request on this machine: no telemetry, no npm update
          // check (sent to a closed loopback port instead), and no download of
          // the Request.cf object (miniflare uses its placeholder under NODE_ENV=test).
          WRANGLER_SEND_METRICS: "false",
          npm_config_registry: "http://127.0.0.1:9/",
          NODE_ENV: "test",
        },
      },
    );
    url = `http://127.0.0.1:${port}`;
    await waitForHTTP(`${url}/models`, proc, 90000);
  });

  after(async () => {
    await proc?.stop();
    await recorder?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("starts without logging in", () => {
    assert.doesNotMatch(proc.output(), /wrangler login|You are not authenticated/i);
  });

  describe("ai-service.js", () => serviceWorkerCases(() => url));
  describe("streaming-chat.js", () => streamingWorkerCases(() => `${url}/stream`));
  describe("document-pipeline.js", () => documentPipelineCases(() => `${url}/documents`));
  describe("chat-history.js (wrangler's local KV)", () => chatHistoryCases(() => url));

  it("sent every API call to /ai/run/proxy, and only there", () => {
    const proxyPath = `/client/v4/accounts/${accountId}/ai/run/proxy`;
    assert.ok(recorder.requests.length > 0, "wrangler made no API call");
    // No /user, /memberships or other account lookups: nothing needs a login.
    // (env.AI.models() arrives as a GET, env.AI.run as a POST.)
    assert.deepEqual(recorder.requests.filter((r) => r.path !== proxyPath), []);
    assert.ok(recorder.requests.some((r) => r.method === "POST"));
  });
});

// Without the proxy route wrangler's binding could not work at all; this
// checks the route alone answers the binding protocol as wrangler forwards it.
describe("edgeinfer's wrangler proxy route", () => {
  it("answers a forwarded binding call", async () => {
    const res = await fetch(`${engineURL}/client/v4/accounts/${accountId}/ai/run/proxy`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "cf-consn-model-id": "@cf/baai/bge-small-en-v1.5",
        "x-forwarded": "https://workers-binding.ai/run?version=3",
      },
      body: JSON.stringify({ inputs: { text: "hello" }, options: {} }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    const body = await res.json();
    assert.deepEqual(body.shape.length, 2);
  });
});
