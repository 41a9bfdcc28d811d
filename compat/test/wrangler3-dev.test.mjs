// wrangler 3 dev under `edgeinfer dev`, on the system node (node 20: what
// wrangler 3 users run). edgeinfer dev recognises wrangler 3.x and sets what
// README's manual wrangler 3 setup sets (the Cloudflare API base at edgeinfer,
// an account ID and a token, no telemetry, no Request.cf download), writes no
// derived config, and wrangler's AI binding sends every call to edgeinfer's
// /ai/run/proxy. The user's own token is not passed on; nothing leaves loopback.
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { compatDir, edgeinferBin } from "./lib/edgeinfer.mjs";
import { freePort, start, waitForHTTP } from "./lib/procs.mjs";
import { startRecorder } from "./lib/recorder.mjs";
import { serviceWorkerCases, streamingWorkerCases } from "./lib/scenarios.mjs";
import { assertLoopbackOnly, netlogEnv, readNetlog } from "./lib/toolchain.mjs";

const wranglerBin = path.join(compatDir, "node_modules", ".bin", "wrangler"); // 3.114.17
const userToken = "a-real-looking-token-edgeinfer-dev-must-not-pass-on";

describe("wrangler 3 dev under edgeinfer dev (system node)", () => {
  let dir;
  let proc;
  let url;
  let recorder;
  let netlog;

  before(async () => {
    recorder = await startRecorder({ bodies: true });
    dir = await mkdtemp(path.join(os.tmpdir(), "edgeinfer-wrangler3dev-"));
    for (const sub of ["workers", "wrangler"]) await cp(path.join(compatDir, sub), path.join(dir, sub), { recursive: true });
    await mkdir(path.join(dir, "config"));
    await mkdir(path.join(dir, "tmp"));
    netlog = path.join(dir, "netlog.jsonl");
    const [port, inspectorPort] = [await freePort(), await freePort()];
    proc = start(
      edgeinferBin,
      ["dev", "--engine", recorder.url, "--",
        wranglerBin, "dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
        "--persist-to", path.join(dir, "state"), "--show-interactive-dev-session=false"],
      {
        cwd: path.join(dir, "wrangler"),
        env: {
          ...process.env,
          ...netlogEnv(netlog),
          // wrangler's `#!/usr/bin/env node` finds the node running this test first.
          PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`,
          XDG_CONFIG_HOME: path.join(dir, "config"), // no stored login
          // No cached answer to wrangler's npm update check: edgeinfer dev records one.
          TMPDIR: path.join(dir, "tmp"),
          CLOUDFLARE_API_TOKEN: userToken,
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

  it("starts wrangler 3 without logging in and without a derived config", async () => {
    assert.match(proc.output(), /wrangler 3\.114\.17/);
    assert.doesNotMatch(proc.output(), /wrangler login|You are not authenticated|has not been tested/i);
    assert.doesNotMatch(proc.output(), /AI binding →/, "wrangler 3 needs no AI worker");
    assert.ok(!(await readdir(path.join(dir, "wrangler"))).some((f) => f.startsWith(".edgeinfer-dev.")));
  });

  describe("ai-service.js", () => serviceWorkerCases(() => url));
  describe("streaming-chat.js", () => streamingWorkerCases(() => `${url}/stream`));

  it("sent every binding call to /ai/run/proxy with edgeinfer dev's account and token, not the user's", () => {
    const calls = recorder.requests.filter((r) => r.path !== "/healthz");
    assert.ok(calls.some((r) => r.method === "POST"), "wrangler made no AI call");
    for (const r of calls) {
      assert.match(r.path, /^\/client\/v4\/accounts\/[0-9a-z]+\/ai\/run\/proxy$/, `${r.method} ${r.path}`);
      assert.ok(!String(r.headers.authorization).includes(userToken), "the user's token reached edgeinfer");
    }
  });

  it("ran wrangler on the system node, and nothing left loopback", async () => {
    await proc.stop();
    const entries = await readNetlog(netlog);
    assert.deepEqual([...new Set(entries.map((e) => e.node))], [process.version]);
    assertLoopbackOnly(entries);
  });
});
