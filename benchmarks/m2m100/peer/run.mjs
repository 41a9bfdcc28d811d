// transformers.js peer for the translation benchmark: the translation
// pipeline over the same local model files, greedy, driven the way a
// per-request server would be (each call translates one text) under the same
// concurrency; CONCURRENCY -8 makes one batched call of 8 texts instead.
// Generated tokens are counted from generate()'s output, as edgeinfer counts
// them: every token after the decoder start, </s> included.
// Usage: node run.mjs MODEL_DIR THREADS CONCURRENCY SECONDS MAX_NEW_TOKENS TARGETS TEXTS.json [DTYPE]
// DTYPE is fp32 (default) or q8, the *_quantized.onnx files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env, pipeline } from '@huggingface/transformers';

const [modelDir, threads, concurrencyArg, seconds, maxNewTokens, targetList, textsFile, dtype = 'fp32'] = process.argv.slice(2);
const texts = JSON.parse(fs.readFileSync(textsFile, 'utf8'));
const targets = targetList.split(',');
const concurrency = Number(concurrencyArg);

// transformers.js resolves models by name under localModelPath.
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'peer-'));
fs.symlinkSync(path.resolve(modelDir), path.join(root, 'model'));
env.allowRemoteModels = false;
env.localModelPath = root;

const translator = await pipeline('translation', 'model', {
  dtype,
  device: 'cpu',
  session_options: { intraOpNumThreads: Number(threads), interOpNumThreads: 1 },
});

// Count what generate() produced: rows × (length − the decoder start).
let generated = 0;
const generate = translator.model.generate.bind(translator.model);
translator.model.generate = async (args) => {
  const out = await generate(args);
  generated += out.dims[0] * (out.dims[1] - 1);
  return out;
};

const options = (i) => ({ src_lang: 'en', tgt_lang: targets[i % targets.length], max_new_tokens: Number(maxNewTokens), num_beams: 1 });
const translate = (i) => translator(concurrency < 0 ? texts.slice(i, i - concurrency) : texts[i % texts.length], options(i));

for (let i = 0; i < Math.abs(concurrency); i++) await translate(i); // warm-up
generated = 0;

// Callers start requests until the deadline; the run ends when the last one
// finishes, as in the Go harness.
const deadline = performance.now() + Number(seconds) * 1000;
const latencies = [];
async function worker(w) {
  for (let i = w * 7919; performance.now() < deadline; i++) {
    const start = performance.now();
    await translate(i);
    latencies.push(performance.now() - start);
  }
}
const start = performance.now();
await Promise.all(Array.from({ length: Math.max(1, concurrency) }, (_, w) => worker(w)));
const elapsed = (performance.now() - start) / 1000;

latencies.sort((a, b) => a - b);
const pct = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
const requests = latencies.length * (concurrency < 0 ? -concurrency : 1);
console.log(JSON.stringify({
  tokens_per_s: generated / elapsed,
  requests,
  tokens_per_request: generated / requests,
  p50_ms: pct(0.5),
  p99_ms: pct(0.99),
}));
fs.rmSync(root, { recursive: true });
