// transformers.js peer for the embeddings benchmark: a feature-extraction
// pipeline over the same local model files, driven the way a per-request
// server would be (each request embeds one text), under the same concurrency.
// Usage: node run.mjs MODEL_DIR DTYPE(fp32|q8) THREADS CONCURRENCY SECONDS TEXTS.json
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env, pipeline } from '@huggingface/transformers';

const [modelDir, dtype, threads, concurrency, seconds, textsFile] = process.argv.slice(2);
const texts = JSON.parse(fs.readFileSync(textsFile, 'utf8'));

// transformers.js resolves models by name under localModelPath.
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'peer-'));
fs.symlinkSync(path.resolve(modelDir), path.join(root, 'model'));
env.allowRemoteModels = false;
env.localModelPath = root;

const extractor = await pipeline('feature-extraction', 'model', {
  dtype,
  device: 'cpu',
  session_options: { intraOpNumThreads: Number(threads), interOpNumThreads: 1 },
});

const embedOne = (t) => extractor(t, { pooling: 'mean', normalize: true });
for (let i = 0; i < 8; i++) await embedOne(texts[i % texts.length]); // warm-up

const deadline = performance.now() + Number(seconds) * 1000;
const latencies = [];
let next = 0;
async function worker() {
  while (performance.now() < deadline) {
    const t = texts[next++ % texts.length];
    const start = performance.now();
    await embedOne(t);
    latencies.push(performance.now() - start);
  }
}
const start = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
const elapsed = (performance.now() - start) / 1000;

// The batched offline call, for reference: one call, all texts.
const batchStart = performance.now();
const batch = texts.slice(0, 64);
await extractor(batch, { pooling: 'mean', normalize: true });
const batchRate = batch.length / ((performance.now() - batchStart) / 1000);

latencies.sort((a, b) => a - b);
const pct = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
console.log(JSON.stringify({
  texts_per_s: latencies.length / elapsed,
  requests: latencies.length,
  p50_ms: pct(0.5),
  p99_ms: pct(0.99),
  batch64_texts_per_s: batchRate,
}));
fs.rmSync(root, { recursive: true });
