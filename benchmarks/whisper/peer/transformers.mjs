// transformers.js peer for the speech-recognition benchmark: the
// automatic-speech-recognition pipeline of @huggingface/transformers 4.3.2
// (installed in compat/imageprep-parity) over the same ONNX files, dtype
// and ONNX Runtime threads, one 60 s request per call, STREAMS calls in
// flight, 30 s chunks, greedy.
// Usage: node transformers.mjs MODEL_DIR SAMPLES.f32 THREADS STREAMS SECONDS DTYPE [LANGUAGE]
// DTYPE is fp32 or q8 (the *_quantized.onnx files). Prints one JSON line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { env, pipeline } = await import(pathToFileURL(path.join(here,
  '../../../compat/imageprep-parity/node_modules/@huggingface/transformers/dist/transformers.node.mjs')).href);

const [modelDir, samples, threads, streams, seconds, dtype, language] = process.argv.slice(2);
const raw = fs.readFileSync(samples);
const audio = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const audioSeconds = audio.length / 16000;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'asr-peer-'));
fs.symlinkSync(path.resolve(modelDir), path.join(root, 'model'));
env.allowRemoteModels = false;
env.localModelPath = root;
const asr = await pipeline('automatic-speech-recognition', 'model', {
  dtype, device: 'cpu', session_options: { intraOpNumThreads: Number(threads), interOpNumThreads: 1 },
});
// max_new_tokens 224 is openai-whisper's sample_len (half the decoder's
// context), the cap edgeinfer samples each window to; the pipeline's own
// default (generation_config's max_length 448) lets random weights decode
// twice as many tokens per window.
const options = {
  chunk_length_s: 30, stride_length_s: 0, max_new_tokens: 224,
  ...(language ? { language, task: 'transcribe' } : {}),
};
const call = () => asr(audio, options);
// Count the pipeline's encoder and decoder runs, to compare its work with
// edgeinfer's (windows encoded, decoder steps).
const runs = {};
for (const [name, session] of Object.entries(asr.model.sessions)) {
  const run = session.run.bind(session);
  runs[name] = 0;
  session.run = (...args) => { runs[name]++; return run(...args); };
}

const n = Number(streams);
await Promise.all(Array.from({ length: n }, call)); // warm-up
for (const name of Object.keys(runs)) runs[name] = 0;
const latencies = [];
const deadline = performance.now() + Number(seconds) * 1000;
const start = performance.now();
await Promise.all(Array.from({ length: n }, async () => {
  while (performance.now() < deadline) {
    const t = performance.now();
    await call();
    latencies.push(performance.now() - t);
  }
}));
const elapsed = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const pct = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
console.log(JSON.stringify({
  audio_s_per_s: (latencies.length * audioSeconds) / elapsed,
  requests: latencies.length,
  p50_ms: pct(0.5),
  p99_ms: pct(0.99),
  peak_rss_mb: process.memoryUsage().rss / 1e6,
  encoder_runs_per_request: (runs.model ?? 0) / latencies.length,
  decoder_runs_per_request: (runs.decoder_model_merged ?? 0) / latencies.length,
}));
fs.rmSync(root, { recursive: true });
