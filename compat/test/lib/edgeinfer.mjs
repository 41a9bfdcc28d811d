// Where the edgeinfer under test is, as run.sh exports it.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const compatDir = fileURLToPath(new URL("../../", import.meta.url));
export const repoRoot = path.resolve(compatDir, "..");

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the compat tier with \`bash compat/run.sh\`, which starts edgeinfer and sets it`);
  }
  return value;
}

/** Base URL of the running edgeinfer, e.g. http://127.0.0.1:41234 */
export const engineURL = required("EDGEINFER_URL");
/** host:port of the running edgeinfer */
export const engineAddr = new URL(engineURL).host;
/** The edgeinfer binary run.sh built. */
export const edgeinferBin = required("EDGEINFER_BIN");

/** The account ID clients put in /client/v4/accounts/{id}/…; edgeinfer accepts any. */
export const accountId = "0123456789abcdef0123456789abcdef";

export const MODELS = {
  chat: "@cf/meta/llama-2-7b-chat-int8",
  embeddingsBase: "@cf/baai/bge-base-en-v1.5",
  embeddingsSmall: "@cf/baai/bge-small-en-v1.5",
  image: "@cf/microsoft/resnet-50",
  translation: "@cf/meta/m2m100-1.2b",
  // Speech recognition: the synthetic tiny preset of models/whisper.
  speech: "@cf/openai/whisper-tiny-en",
  speechTurbo: "@cf/openai/whisper-large-v3-turbo",
};

/** Asserts the binding's embeddings output: {shape:[n,d], data: n×d finite numbers}. */
export function assertEmbeddings(out, n) {
  assert.ok(Array.isArray(out.shape) && out.shape.length === 2, `shape: ${JSON.stringify(out.shape)}`);
  assert.equal(out.shape[0], n);
  assert.ok(out.shape[1] > 0);
  assert.equal(out.data.length, n);
  for (const row of out.data) {
    assert.equal(row.length, out.shape[1]);
    assert.ok(row.every(Number.isFinite), "every component is a finite number");
  }
}

/** Asserts ResNet's output: up to five {label, score}, labels upper case, scores descending. */
export function assertClassifications(out) {
  assert.ok(Array.isArray(out), `want an array, got ${JSON.stringify(out).slice(0, 200)}`);
  assert.ok(out.length >= 1 && out.length <= 5, `length ${out.length}`);
  for (const [i, c] of out.entries()) {
    assert.equal(typeof c.label, "string");
    assert.equal(c.label, c.label.toUpperCase());
    assert.ok(c.score >= 0 && c.score <= 1, `score ${c.score}`);
    if (i > 0) assert.ok(out[i - 1].score >= c.score, "scores descend");
  }
}

/** Asserts a generation result: {response: string, usage: {...}}. */
export function assertGeneration(out) {
  assert.equal(typeof out.response, "string");
  assert.ok(out.usage, `usage missing: ${JSON.stringify(out)}`);
  assert.ok(out.usage.prompt_tokens > 0);
  assert.equal(out.usage.total_tokens, out.usage.prompt_tokens + out.usage.completion_tokens);
}
