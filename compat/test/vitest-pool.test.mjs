// A real `vitest run` of a Worker project's tests (compat/vitest/) in
// @cloudflare/vitest-pool-workers under `edgeinfer dev`, and again in its
// renamed successor @cloudflare/vitest-plugin (same cloudflareTest options; it
// brings its own wrangler and miniflare 5): vitest.config.js gives miniflare's
// own ai option edgeinfer's URL, so env.AI in the tests is workerd's genuine Ai
// class talking to edgeinfer. No login, no internet.
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { compatDir, edgeinferBin } from "./lib/edgeinfer.mjs";
import { start } from "./lib/procs.mjs";
import { startRecorder } from "./lib/recorder.mjs";
import { assertLoopbackOnly, netlogEnv, readNetlog, requireToolchain, toolchainDir } from "./lib/toolchain.mjs";

for (const pkg of ["@cloudflare/vitest-pool-workers", "@cloudflare/vitest-plugin"]) describe(`vitest run (${pkg}) under edgeinfer dev`, () => {
  it("runs the project's tests with env.AI backed by edgeinfer", async () => {
    requireToolchain();
    const recorder = await startRecorder();
    const root = await mkdtemp(path.join(os.tmpdir(), "edgeinfer-vitest-"));
    try {
      for (const sub of ["workers", "vitest"]) await cp(path.join(compatDir, sub), path.join(root, sub), { recursive: true });
      // The fixture's config imports vitest-pool-workers; the plugin takes the same options.
      const config = path.join(root, "vitest", "vitest.config.js");
      const source = await readFile(config, "utf8");
      assert.ok(source.includes('from "@cloudflare/vitest-pool-workers"'));
      await writeFile(config, source.replace('from "@cloudflare/vitest-pool-workers"', `from "${pkg}"`));
      await symlink(path.join(toolchainDir, "node_modules"), path.join(root, "vitest", "node_modules"));
      await mkdir(path.join(root, "config"));
      const netlog = path.join(root, "netlog.jsonl");
      const proc = start(edgeinferBin, ["dev", "--engine", recorder.url, "--", path.join(toolchainDir, "node_modules", ".bin", "vitest"), "run"], {
        cwd: path.join(root, "vitest"),
        env: { ...process.env, ...netlogEnv(netlog), XDG_CONFIG_HOME: path.join(root, "config"), CI: "true", NO_COLOR: "1", FORCE_COLOR: "0" },
      });
      const { code } = await proc.exited;
      const output = proc.output();
      assert.equal(code, 0, output);
      assert.match(output, /Tests\s+5 passed/, output);
      // env.AI's calls went through edgeinfer's binding routes, nothing to the Cloudflare API.
      assert.ok(recorder.requests.some((r) => r.method === "POST"), JSON.stringify(recorder.requests));
      assert.deepEqual(recorder.requests.filter((r) => r.path.startsWith("/client/v4/")), []);
      assertLoopbackOnly(await readNetlog(netlog));
    } finally {
      await recorder.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
