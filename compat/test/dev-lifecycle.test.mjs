// `edgeinfer dev` with no edgeinfer running: it starts one (`edgeinfer serve`
// at --addr), runs the command with the environment pointed at it, passes the
// command's exit code on, and stops the edgeinfer it started, also when it is
// itself sent SIGTERM. With an edgeinfer already answering at --addr it uses
// that one and leaves it running.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { accountId, edgeinferBin, engineAddr, engineURL } from "./lib/edgeinfer.mjs";
import { postJSON } from "./lib/http.mjs";
import { freePort, start } from "./lib/procs.mjs";

const MODEL = "@cf/baai/bge-small-en-v1.5";

// The command edgeinfer dev runs: it reports the environment it was given and
// an embedding from the edgeinfer that environment names, then exits with
// $PROBE_EXIT, or, with PROBE_WAIT set, waits for SIGTERM.
const probe = `
const env = process.env;
const res = await fetch(\`\${env.CLOUDFLARE_API_BASE_URL}/accounts/\${env.CLOUDFLARE_ACCOUNT_ID}/ai/run/${MODEL}\`, {
  method: "POST", headers: { "content-type": "application/json", authorization: \`Bearer \${env.CLOUDFLARE_API_TOKEN}\` },
  body: JSON.stringify({ text: ["edge inference"] }),
});
const report = { url: env.EDGEINFER_URL, apiBase: env.CLOUDFLARE_API_BASE_URL, status: res.status, body: await res.json() };
console.log("PROBE " + JSON.stringify(report));
if (env.PROBE_WAIT) {
  process.on("SIGTERM", () => { console.log("PROBE got SIGTERM"); process.exit(0); });
  setInterval(() => {}, 1000);
} else {
  process.exit(Number(env.PROBE_EXIT));
}
`;

function probeReport(output) {
  const line = output.split("\n").find((l) => l.startsWith("PROBE {"));
  assert.ok(line, `the command ran and reported:\n${output}`);
  return JSON.parse(line.slice("PROBE ".length));
}

async function answers(url) {
  try {
    await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

describe("edgeinfer dev starts and stops edgeinfer", () => {
  let dir;
  let home;
  let probePath;
  let reference;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "edgeinfer-devlife-"));
    // A home of its own (its state store is locked by the running server) with
    // the tier's models and ONNX Runtime.
    home = path.join(dir, "home");
    await mkdir(home);
    const tierHome = process.env.EDGEINFER_HOME;
    for (const sub of ["models", "lib"]) await symlink(path.join(tierHome, sub), path.join(home, sub));
    probePath = path.join(dir, "probe.mjs");
    await writeFile(probePath, probe);
    const res = await postJSON(`${engineURL}/client/v4/accounts/${accountId}/ai/run/${MODEL}`, { text: ["edge inference"] });
    assert.equal(res.status, 200);
    reference = res.body.result;
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // edgeinfer dev with no EDGEINFER_URL, so it looks at --addr.
  function dev(addr, extraEnv) {
    const env = { ...process.env, ...extraEnv };
    delete env.EDGEINFER_URL;
    delete env.EDGEINFER_ADDR;
    return start(edgeinferBin, ["dev", "--home", home, "--addr", addr, "--", process.execPath, probePath], { cwd: dir, env });
  }

  it("starts edgeinfer at --addr, runs the command against it, passes its exit code on, stops edgeinfer", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = dev(`127.0.0.1:${port}`, { PROBE_EXIT: "7" });
    const { code } = await proc.exited;
    const output = proc.output();
    assert.equal(code, 7, output);
    const logPath = output.match(/started edgeinfer at (\S+) \(log: (\S+)\)/);
    assert.ok(logPath, output);
    assert.equal(logPath[1], url);
    const report = probeReport(output);
    assert.equal(report.url, url);
    assert.equal(report.apiBase, `${url}/client/v4`);
    assert.equal(report.status, 200, JSON.stringify(report.body));
    // The same models as the tier's server: the same vector.
    assert.deepEqual(report.body.result.shape, reference.shape);
    report.body.result.data[0].forEach((v, i) => assert.ok(Math.abs(v - reference.data[0][i]) <= 1e-5, `component ${i}`));
    assert.ok(!(await answers(url)), "the edgeinfer it started is stopped");
    assert.match(await readFile(logPath[2], "utf8"), /msg="edgeinfer listening"/);
    await rm(logPath[2], { force: true });
  });

  it("passes SIGTERM on to the command and stops the edgeinfer it started", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = dev(`127.0.0.1:${port}`, { PROBE_WAIT: "1" });
    const deadline = Date.now() + 60000;
    while (!proc.output().includes("PROBE {")) {
      assert.ok(Date.now() < deadline && proc.child.exitCode === null, `the command did not start:\n${proc.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(await answers(url));
    process.kill(proc.child.pid, "SIGTERM"); // edgeinfer dev alone, not its process group
    const { code } = await proc.exited;
    const output = proc.output();
    assert.match(output, /PROBE got SIGTERM/);
    assert.equal(code, 0, output);
    assert.ok(!(await answers(url)), "the edgeinfer it started is stopped");
    const log = output.match(/\(log: (\S+edgeinfer-dev-\S+\.log)\)/);
    if (log) await rm(log[1], { force: true });
  });

  it("uses an edgeinfer already answering at --addr and leaves it running", async () => {
    const proc = dev(engineAddr, { PROBE_EXIT: "0" });
    const { code } = await proc.exited;
    const output = proc.output();
    assert.equal(code, 0, output);
    assert.match(output, new RegExp(`using the edgeinfer running at ${engineURL}`));
    assert.doesNotMatch(output, /started edgeinfer/);
    assert.equal(probeReport(output).url, engineURL);
    assert.ok(await answers(engineURL), "the running edgeinfer still answers");
  });
});
