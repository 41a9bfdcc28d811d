// The Cloudflare Vite plugin and wrangler's getPlatformProxy under
// `edgeinfer dev`: the project (compat/vite/) declares the usual AI binding;
// edgeinfer dev runs its AI worker in a wrangler dev session of its own and
// hands the tools a derived config (the Vite plugin reads
// CLOUDFLARE_VITE_WRANGLER_CONFIG_PATH; a getPlatformProxy script passes
// EDGEINFER_WRANGLER_CONFIG as configPath). Their sessions reach the AI
// worker through wrangler's dev registry. No login, no internet.
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { compatDir, edgeinferBin } from "./lib/edgeinfer.mjs";
import { bindingParityCases } from "./lib/binding-cases.mjs";
import { freePort, start, waitForHTTP } from "./lib/procs.mjs";
import { startRecorder } from "./lib/recorder.mjs";
import { workersAIStreamText } from "./lib/sse.mjs";
import { assertLoopbackOnly, netlogEnv, readNetlog, requireToolchain, toolchainDir } from "./lib/toolchain.mjs";
import { startWorkerd } from "./lib/workers.mjs";

const bin = (name) => path.join(toolchainDir, "node_modules", ".bin", name);

/** A copy of compat/vite (and the Workers it imports) using compat/toolchain's packages. */
async function project(root) {
  for (const sub of ["workers", "vite"]) await cp(path.join(compatDir, sub), path.join(root, sub), { recursive: true });
  await symlink(path.join(toolchainDir, "node_modules"), path.join(root, "vite", "node_modules"));
  await mkdir(path.join(root, "config"));
  return path.join(root, "vite");
}

function toolEnv(root, netlog) {
  return { ...process.env, ...netlogEnv(netlog), XDG_CONFIG_HOME: path.join(root, "config") };
}

describe("vite dev (@cloudflare/vite-plugin) under edgeinfer dev", () => {
  let root;
  let proc;
  let url;
  let recorder;
  let reference;
  let netlog;
  let original;

  before(async () => {
    requireToolchain();
    recorder = await startRecorder();
    reference = await startWorkerd("binding-probe.js");
    root = await mkdtemp(path.join(os.tmpdir(), "edgeinfer-vite-"));
    const dir = await project(root);
    original = await readFile(path.join(dir, "wrangler.jsonc"), "utf8");
    netlog = path.join(root, "netlog.jsonl");
    const port = await freePort();
    proc = start(edgeinferBin, ["dev", "--engine", recorder.url, "--", bin("vite"), "dev", "--host", "127.0.0.1", "--port", String(port), "--strictPort"],
      { cwd: dir, env: toolEnv(root, netlog) });
    url = `http://127.0.0.1:${port}`;
    await waitForHTTP(`${url}/probe/models?task=Translation`, proc, 120000);
  });

  after(async () => {
    await proc?.stop();
    await reference?.stop();
    await recorder?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("serves the project without a login, its files unchanged", async () => {
    assert.doesNotMatch(proc.output(), /wrangler login|You are not authenticated|remote proxy session/i);
    assert.equal(await readFile(path.join(root, "vite", "wrangler.jsonc"), "utf8"), original);
  });

  describe("env.AI against workerd's genuine binding", () => bindingParityCases(() => reference.url, () => url, { errorNames: false }));

  it("stops everything it started and removes the derived config", async () => {
    await proc.stop();
    assert.deepEqual((await readdir(path.join(root, "vite"))).filter((f) => f.startsWith(".edgeinfer-dev")), []);
    assert.deepEqual(recorder.requests.filter((r) => r.path.startsWith("/client/v4/")), []);
    assertLoopbackOnly(await readNetlog(netlog));
  });
});

describe("getPlatformProxy under edgeinfer dev", () => {
  it("gives a Node script env.AI backed by edgeinfer", async () => {
    requireToolchain();
    const recorder = await startRecorder();
    const root = await mkdtemp(path.join(os.tmpdir(), "edgeinfer-platform-proxy-"));
    try {
      const dir = await project(root);
      const netlog = path.join(root, "netlog.jsonl");
      const proc = start(edgeinferBin, ["dev", "--engine", recorder.url, "--", process.execPath, "platform-proxy.mjs"], { cwd: dir, env: toolEnv(root, netlog) });
      const { code } = await proc.exited;
      const output = proc.output();
      assert.equal(code, 0, output);
      const line = output.split("\n").find((l) => l.startsWith("{"));
      assert.ok(line, output);
      const result = JSON.parse(line);
      assert.deepEqual(result.embeddings.shape, [2, result.embeddings.data[0].length]);
      assert.ok(workersAIStreamText(assert, result.stream).length > 0);
      assert.equal(typeof result.translation.translated_text, "string");
      assert.match(result.error.message, /^5006: /);
      assert.ok(recorder.requests.some((r) => r.path.startsWith("/run")), JSON.stringify(recorder.requests));
      assertLoopbackOnly(await readNetlog(netlog));
    } finally {
      await recorder.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
