// transformers.js peer for the reranker benchmark: the cross-encoder over the
// same local model files, driven as a per-request server would be (each
// request scores its query against its contexts in one batch), under the
// same concurrency and threads.
// Usage: node run.mjs MODEL_DIR DTYPE(fp32|q8) THREADS CONCURRENCY SECONDS REQUESTS.json
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AutoModelForSequenceClassification, AutoTokenizer, env } from '@huggingface/transformers';

const [modelDir, dtype, threads, concurrency, seconds, requestsFile] = process.argv.slice(2);
const requests = JSON.parse(fs.readFileSync(requestsFile, 'utf8'));

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'peer-'));
fs.symlinkSync(path.resolve(modelDir), path.join(root, 'model'));
env.allowRemoteModels = false;
env.localModelPath = root;

const tokenizer = await AutoTokenizer.from_pretrained('model');
const model = await AutoModelForSequenceClassification.from_pretrained('model', {
  dtype,
  device: 'cpu',
  session_options: { intraOpNumThreads: Number(threads), interOpNumThreads: 1 },
});

async function rerank({ query, contexts }) {
  const inputs = tokenizer(new Array(contexts.length).fill(query), { text_pair: contexts, padding: true, truncation: true });
  const { logits } = await model(inputs);
  return Array.from(logits.data, (x) => 1 / (1 + Math.exp(-x)));
}

for (let i = 0; i < 4; i++) await rerank(requests[i % requests.length]); // warm-up

const deadline = performance.now() + Number(seconds) * 1000;
const latencies = [];
let next = 0, pairs = 0;
async function worker() {
  while (performance.now() < deadline) {
    const r = requests[next++ % requests.length];
    const start = performance.now();
    await rerank(r);
    latencies.push(performance.now() - start);
    pairs += r.contexts.length;
  }
}
const start = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
const elapsed = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const pct = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
console.log(JSON.stringify({ pairs_per_s: pairs / elapsed, requests: latencies.length, p50_ms: pct(0.5), p99_ms: pct(0.99) }));
fs.rmSync(root, { recursive: true });
