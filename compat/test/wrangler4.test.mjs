// wrangler 4 dev under `edgeinfer dev`: the project's wrangler.jsonc declares
// the usual `ai` binding (a remote binding that needs a Cloudflare login in
// wrangler 4); edgeinfer dev runs `wrangler dev -c <derived> -c <AI worker>`,
// where the derived config binds AI to edgeinfer's local AI worker. The
// Worker code and the project's config stay unchanged; no login, no internet.
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { compatDir, edgeinferBin, engineURL } from "./lib/edgeinfer.mjs";
import { bindingParityCases, speechBindingCases } from "./lib/binding-cases.mjs";
import { freePort, start, waitForHTTP } from "./lib/procs.mjs";
import { startRecorder } from "./lib/recorder.mjs";
import { chatHistoryCases, documentPipelineCases, serviceWorkerCases, streamingWorkerCases } from "./lib/scenarios.mjs";
import { assertLoopbackOnly, netlogEnv, readNetlog, requireToolchain } from "./lib/toolchain.mjs";
import { startWorkerd } from "./lib/workers.mjs";

const wranglerBin = path.join(compatDir, "toolchain", "node_modules", ".bin", "wrangler");

describe("wrangler 4 dev under edgeinfer dev", () => {
  let dir;
  let proc;
  let url;
  let recorder;
  let netlog;
  let reference;
  let original;

  before(async () => {
    requireToolchain();
    recorder = await startRecorder();
    reference = await startWorkerd("binding-probe.js");
    dir = await mkdtemp(path.join(os.tmpdir(), "edgeinfer-wrangler4-"));
    for (const sub of ["workers", "wrangler", "wrangler4"]) await cp(path.join(compatDir, sub), path.join(dir, sub), { recursive: true });
    await mkdir(path.join(dir, "config"));
    original = await readFile(path.join(dir, "wrangler4", "wrangler.jsonc"), "utf8");
    netlog = path.join(dir, "netlog.jsonl");
    const [port, inspectorPort] = [await freePort(), await freePort()];
    proc = start(
      edgeinferBin,
      ["dev", "--engine", recorder.url, "--",
        wranglerBin, "dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
        "--persist-to", path.join(dir, "state"), "--show-interactive-dev-session=false"],
      {
        cwd: path.join(dir, "wrangler4"),
        env: {
          ...process.env,
          ...netlogEnv(netlog),
          // An empty config folder: no stored login to fall back on.
          XDG_CONFIG_HOME: path.join(dir, "config"),
          // A user's own credentials must not matter: edgeinfer dev replaces them.
          CLOUDFLARE_API_TOKEN: "a-real-looking-token-edgeinfer-dev-must-not-pass-on",
        },
      },
    );
    url = `http://127.0.0.1:${port}`;
    await waitForHTTP(`${url}/models`, proc, 90000);
  });

  after(async () => {
    await proc?.stop();
    await reference?.stop();
    await recorder?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("starts without logging in, on the derived config beside the project's", async () => {
    assert.doesNotMatch(proc.output(), /wrangler login|You are not authenticated|remote proxy session/i);
    assert.match(proc.output(), /env\.AI \(edgeinfer-ai#EdgeinferAI\)/);
    const files = await readdir(path.join(dir, "wrangler4"));
    assert.ok(files.includes(".edgeinfer-dev.wrangler.json"), files.join(", "));
    assert.equal(await readFile(path.join(dir, "wrangler4", "wrangler.jsonc"), "utf8"), original);
  });

  describe("ai-service.js", () => serviceWorkerCases(() => url, { rpcBinding: true }));
  describe("streaming-chat.js", () => streamingWorkerCases(() => `${url}/stream`));
  describe("document-pipeline.js", () => documentPipelineCases(() => `${url}/documents`));
  describe("chat-history.js (wrangler's local KV)", () => chatHistoryCases(() => url));
  describe("env.AI against workerd's genuine binding", () => bindingParityCases(() => reference.url, () => url));
  describe("env.AI speech recognition against the REST API", () => speechBindingCases(() => reference.url, () => url));

  it("sent every AI call to edgeinfer and nothing to the Cloudflare API", () => {
    assert.ok(recorder.requests.length > 0, "no request reached edgeinfer");
    assert.deepEqual(recorder.requests.filter((r) => r.path.startsWith("/client/v4/")), []);
  });

  it("stops cleanly and removes the derived config", async () => {
    await proc.stop();
    assert.ok(!(await readdir(path.join(dir, "wrangler4"))).includes(".edgeinfer-dev.wrangler.json"));
    assert.equal(await readFile(path.join(dir, "wrangler4", "wrangler.jsonc"), "utf8"), original);
  });

  it("no node process of the session connected beyond loopback", async () => {
    assertLoopbackOnly(await readNetlog(netlog));
  });
});

// A wrangler session request edgeinfer does not serve gets Cloudflare's
// "no route" error naming the endpoint, at once (wrangler then reports it).
describe("edgeinfer's answer to other Cloudflare API calls", () => {
  for (const [method, p] of [
    ["GET", "/client/v4/accounts/0123/workers/subdomain/edge-preview"],
    ["POST", "/client/v4/accounts/0123/workers/scripts/my-worker/edge-preview"],
    ["GET", "/client/v4/user"],
  ]) {
    it(`${method} ${p}`, async () => {
      const res = await fetch(`${engineURL}${p}`, { method, signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 404);
      const body = await res.json();
      assert.equal(body.success, false);
      assert.equal(body.errors[0].code, 7000);
      assert.ok(body.errors[0].message.includes(`${method} ${p}`), body.errors[0].message);
    });
  }
});
