// Helpers for the tests of the current Workers toolchain (compat/toolchain/:
// wrangler 4, the Vite plugin, vitest-pool-workers, the AI SDK), which needs
// node >= 22.12: run.sh runs the tier under the node `make setup` installs.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import net from "node:net";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { compatDir } from "./edgeinfer.mjs";

export const toolchainDir = path.join(compatDir, "toolchain");
const netlogModule = fileURLToPath(new URL("./netlog.cjs", import.meta.url));

/** Fails unless this node and compat/toolchain's packages can run the toolchain. */
export function requireToolchain() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  assert.ok(major > 22 || (major === 22 && minor >= 12),
    `node ${process.versions.node} cannot run wrangler 4 / vitest-pool-workers (need >= 22.12): run \`make setup\` (it installs node 22 into $EDGEINFER_HOME/node) and the tier with \`bash compat/run.sh\``);
  assert.ok(existsSync(path.join(toolchainDir, "node_modules", ".package-lock.json")),
    "compat/toolchain has no node_modules: `bash compat/run.sh` installs them (npm ci --ignore-scripts)");
}

/** Environment that makes every node process of a tool log its connections to file. */
export function netlogEnv(file) {
  const preload = `--require ${netlogModule}`;
  return {
    EDGEINFER_NETLOG: file,
    NODE_OPTIONS: process.env.NODE_OPTIONS ? `${process.env.NODE_OPTIONS} ${preload}` : preload,
  };
}

/** The entries netlog.cjs wrote (none when the file was never created). */
export async function readNetlog(file) {
  let text = "";
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (err.code !== "ENOENT") throw err;
  }
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

const loopback = new Set(["127.0.0.1", "::1", "localhost", "[::1]", "0.0.0.0"]);
const isLoopback = (host) => loopback.has(host) || /^127\./.test(host) || /^::ffff:127\./.test(host);

/**
 * Asserts that every recorded connection and DNS lookup stayed on this
 * machine. Looking up an IP literal (Vite does it for the machine's own
 * interface addresses) sends no query and is not counted.
 */
export function assertLoopbackOnly(entries) {
  assert.ok(entries.some((e) => e.kind === "connect"), "the network log is empty: was netlog.cjs preloaded?");
  const outside = entries.filter((e) => (e.kind === "connect" && e.host !== undefined && !isLoopback(e.host)) ||
    (e.kind === "lookup" && !isLoopback(e.host) && net.isIP(e.host) === 0));
  assert.deepEqual(outside, [], "requests that left loopback");
}

/** Imports a package installed in compat/toolchain (the tier's own node_modules cannot hold it). */
export async function importToolchain(name) {
  const resolved = createRequire(path.join(toolchainDir, "package.json")).resolve(name);
  return import(pathToFileURL(resolved).href);
}
