// transformers.js peer for the ResNet benchmark: the image-classification
// pipeline over the same local model files and image files, driven the way a
// per-request server would be (each call classifies one image, read from
// disk), under the same concurrency; then batched calls for reference.
//
// Usage, from the repository root:
//   node benchmarks/resnet/peer.mjs NODE_PROJECT MODEL_DIR THREADS CONCURRENCY SECONDS IMAGES.json
// NODE_PROJECT is the folder whose node_modules holds @huggingface/transformers
// (compat/imageprep-parity).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const [project, modelDir, threads, concurrency, seconds, listFile] = process.argv.slice(2);
const require = createRequire(path.resolve(project, 'package.json'));
const { env, pipeline } = await import(require.resolve('@huggingface/transformers'));
const files = JSON.parse(fs.readFileSync(listFile, 'utf8'));

// transformers.js resolves models by name under localModelPath.
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'peer-'));
fs.symlinkSync(path.resolve(modelDir), path.join(root, 'model'));
env.allowRemoteModels = false;
env.localModelPath = root;

const classifier = await pipeline('image-classification', 'model', {
  dtype: 'fp32',
  device: 'cpu',
  session_options: { intraOpNumThreads: Number(threads), interOpNumThreads: 1 },
});

const classifyOne = (f) => classifier(f, { top_k: 5 });
for (let i = 0; i < 4; i++) await classifyOne(files[i % files.length]); // warm-up

let deadline = performance.now() + Number(seconds) * 1000;
const latencies = [];
let next = 0;
async function worker() {
  while (performance.now() < deadline) {
    const f = files[next++ % files.length];
    const start = performance.now();
    await classifyOne(f);
    latencies.push(performance.now() - start);
  }
}
const start = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
const elapsed = (performance.now() - start) / 1000;

// Batched calls of CONCURRENCY images, for half the time.
let batched = 0;
deadline = performance.now() + (Number(seconds) * 1000) / 2;
const batchStart = performance.now();
while (performance.now() < deadline) {
  const batch = Array.from({ length: Number(concurrency) }, () => files[next++ % files.length]);
  await classifier(batch, { top_k: 5 });
  batched += batch.length;
}
const batchedRate = batched / ((performance.now() - batchStart) / 1000);

latencies.sort((a, b) => a - b);
const pct = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
console.log(JSON.stringify({
  images_per_s: latencies.length / elapsed,
  requests: latencies.length,
  p50_ms: pct(0.5),
  p99_ms: pct(0.99),
  batched_images_per_s: batchedRate,
}));
fs.rmSync(root, { recursive: true });
