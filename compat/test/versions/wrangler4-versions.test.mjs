// wrangler 4 releases other than the pinned one under `edgeinfer dev`: the
// service-binding route (derived config + the AI worker in the same session)
// with the wrangler 4 fixture, compared call by call with workerd's genuine
// binding as in test/wrangler4.test.mjs. The fixture's compatibility date is
// lowered to what the release's workerd supports (wrangler 4.86 refuses a
// newer one); before workerd 2026-04-21 errors cross RPC without their name,
// so they must match the genuine binding's in message only.
// Not part of the tier (run.sh runs test/*.test.mjs only): it installs each
// release from the npm registry into a cache on first use. Run it by hand:
//
//   WRANGLER4_VERSIONS="4.60.0 4.86.0" bash compat/run.sh test/versions/wrangler4-versions.test.mjs
//   WRANGLER4_KEEP_DATE=1 WRANGLER4_VERSIONS=4.60.0 bash compat/run.sh test/versions/wrangler4-versions.test.mjs
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { bindingParityCases } from "../lib/binding-cases.mjs";
import { compatDir, edgeinferBin, engineURL } from "../lib/edgeinfer.mjs";
import { freePort, start, waitForHTTP } from "../lib/procs.mjs";
import { streamingWorkerCases } from "../lib/scenarios.mjs";
import { assertLoopbackOnly, netlogEnv, readNetlog, requireToolchain } from "../lib/toolchain.mjs";
import { startWorkerd } from "../lib/workers.mjs";

const versions = (process.env.WRANGLER4_VERSIONS ?? "4.0.0 4.25.0 4.40.0 4.60.0 4.86.0 4.120.0 4.157.0").split(/\s+/).filter(Boolean);
const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "edgeinfer", "wrangler");

/** The wrangler binary of release v, installed (without install scripts) on first use. */
function wranglerOf(v) {
  const dir = path.join(cache, v);
  const bin = path.join(dir, "node_modules", ".bin", "wrangler");
  if (!existsSync(bin)) {
    execFileSync("npm", ["install", "--prefix", dir, "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error", `wrangler@${v}`], { stdio: "inherit" });
  }
  return bin;
}

/** The release's workerd date (workerd 1.20260426.1 → 2026-04-26): nested under wrangler or beside it. */
function runtimeDate(v) {
  for (const p of [["wrangler", "node_modules", "workerd"], ["workerd"]]) {
    const file = path.join(cache, v, "node_modules", ...p, "package.json");
    if (!existsSync(file)) continue;
    const d = JSON.parse(readFileSync(file, "utf8")).version.split(".")[1];
    return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`;
  }
  throw new Error(`no workerd in wrangler ${v}'s install`);
}

/** wrangler releases before 4.64.0 bundle a miniflare without CLOUDFLARE_CF_FETCH_ENABLED. */
const downloadsRequestCf = (v) => Number(v.split(".")[0]) === 4 && Number(v.split(".")[1]) < 64;

let reference;
before(async () => {
  requireToolchain();
  reference = await startWorkerd("binding-probe.js");
});
after(() => reference?.stop());

const fixtureDate = readFileSync(path.join(compatDir, "wrangler4", "wrangler.jsonc"), "utf8").match(/"compatibility_date": "([0-9-]+)"/)[1];

for (const v of versions) {
  // Installed now: the cases registered below depend on the release's runtime.
  const wranglerBin = wranglerOf(v);
  const runtime = runtimeDate(v);
  // WRANGLER4_KEEP_DATE=1 keeps the fixture's date on releases that accept a
  // date newer than their runtime (4.60 does, 4.86 refuses): edgeinfer dev must
  // then find the runtime's date itself to keep error messages exact.
  const date = process.env.WRANGLER4_KEEP_DATE || fixtureDate < runtime ? fixtureDate : runtime;
  const errorNames = (date < runtime ? date : runtime) >= "2026-04-21";
  describe(`wrangler ${v} dev under edgeinfer dev (workerd ${runtime}, compatibility date ${date})`, () => {
    let dir;
    let proc;
    let url;
    let netlog;

    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), `edgeinfer-wrangler-${v}-`));
      for (const sub of ["workers", "wrangler", "wrangler4"]) await cp(path.join(compatDir, sub), path.join(dir, sub), { recursive: true });
      const config = path.join(dir, "wrangler4", "wrangler.jsonc");
      await writeFile(config, (await readFile(config, "utf8")).replace(fixtureDate, date));
      await mkdir(path.join(dir, "config"));
      netlog = path.join(dir, "netlog.jsonl");
      const [port, inspectorPort] = [await freePort(), await freePort()];
      proc = start(
        edgeinferBin,
        ["dev", "--engine", engineURL, "--",
          wranglerBin, "dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
          "--persist-to", path.join(dir, "state"), "--show-interactive-dev-session=false"],
        { cwd: path.join(dir, "wrangler4"), env: { ...process.env, ...netlogEnv(netlog), XDG_CONFIG_HOME: path.join(dir, "config") } },
      );
      url = `http://127.0.0.1:${port}`;
      await waitForHTTP(`${url}/models`, proc, 120000);
    });

    after(async () => {
      await proc?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("starts on the derived config, without logging in", async () => {
      assert.equal(JSON.parse(await readFile(path.join(cache, v, "node_modules", "wrangler", "package.json"), "utf8")).version, v);
      assert.doesNotMatch(proc.output(), /wrangler login|You are not authenticated|remote proxy session/i);
      assert.match(proc.output(), /env\.AI \(edgeinfer-ai#EdgeinferAI\)|AI: edgeinfer-ai#EdgeinferAI/); // wrangler 4.0 words its banner so
    });

    describe("streaming-chat.js", () => streamingWorkerCases(() => `${url}/stream`));
    describe("env.AI against workerd's genuine binding", () => bindingParityCases(() => reference.url, () => url, { errorNames }));

    it(`no node process of the session connected beyond loopback${downloadsRequestCf(v) ? ", except miniflare's Request.cf download" : ""}`, async () => {
      await proc.stop();
      let entries = await readNetlog(netlog);
      if (downloadsRequestCf(v)) entries = entries.filter((e) => e.host !== "workers.cloudflare.com");
      assertLoopbackOnly(entries);
    });
  });
}
