// Runs the example Workers (compat/workers/) under workerd with the config
// `edgeinfer workerd-config` writes, as a user would.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { compatDir, edgeinferBin, engineAddr } from "./edgeinfer.mjs";
import { freePort, start, waitForHTTP } from "./procs.mjs";

const run = promisify(execFile);
const workerdBin = path.join(compatDir, "node_modules", ".bin", "workerd");

/**
 * Starts workerd serving compat/workers/<file> with env.AI backed by
 * edgeinfer and the given in-memory KV namespaces; returns {url, stop}.
 */
export async function startWorkerd(file, { kv = [] } = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "edgeinfer-workerd-"));
  const port = await freePort();
  const config = path.join(dir, "edgeinfer.capnp");
  const args = ["workerd-config", "--worker", path.join(compatDir, "workers", file), "--engine", engineAddr,
    "--listen", `127.0.0.1:${port}`, "--out", config];
  for (const name of kv) args.push("--kv", name);
  await run(edgeinferBin, args);
  const proc = start(workerdBin, ["serve", config], { cwd: dir });
  const url = `http://127.0.0.1:${port}`;
  await waitForHTTP(url, proc);
  return {
    url,
    output: proc.output,
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
