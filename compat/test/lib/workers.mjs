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
 * edgeinfer (at engine, default the one run.sh started) and the given
 * in-memory KV namespaces. With tokenEnv, the config reads edgeinfer's API
 * token from that variable of env. Returns {url, output, stop}.
 */
export async function startWorkerd(file, { kv = [], engine = engineAddr, tokenEnv, env = process.env } = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "edgeinfer-workerd-"));
  const port = await freePort();
  const config = path.join(dir, "edgeinfer.capnp");
  const args = ["workerd-config", "--worker", path.join(compatDir, "workers", file), "--engine", engine,
    "--listen", `127.0.0.1:${port}`, "--out", config];
  for (const name of kv) args.push("--kv", name);
  if (tokenEnv) args.push("--token-env", tokenEnv);
  await run(edgeinferBin, args);
  const proc = start(workerdBin, ["serve", config], { cwd: dir, env });
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
