// whisper.cpp peer for the speech-recognition benchmark: the same
// synthetic weights as a ggml file (models/synth WriteWhisperGGML), run
// through @napi-rs/whisper's prebuilt whisper.cpp. whisper_full is
// synchronous, so each stream is a worker thread with its own context
// (whisper.cpp's own server serves one request at a time); the streams
// share THREADS threads (at least one each).
// Usage: node whispercpp.mjs MODEL.bin SAMPLES.f32 THREADS STREAMS SECONDS [LANGUAGE]
// Prints one JSON line: audio seconds transcribed per second, requests,
// p50/p99 latency, peak RSS.
import fs from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Whisper, WhisperFullParams, WhisperSamplingStrategy } from '@napi-rs/whisper';

function transcriber({ model, samples, threads, language }) {
  const whisper = new Whisper(fs.readFileSync(model), { useGpu: false });
  const raw = fs.readFileSync(samples);
  const audio = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  return () => {
    const p = new WhisperFullParams(WhisperSamplingStrategy.Greedy);
    p.nThreads = threads;
    p.language = language;
    p.printProgress = false;
    p.printRealtime = false;
    return whisper.full(p, audio);
  };
}

if (!isMainThread) {
  // One stream: a warm-up call, then calls back to back until told to stop
  // (the call in hand always finishes, as loadgen.Drained does).
  const run = transcriber(workerData);
  run();
  parentPort.postMessage({ ready: true });
  let stop = false;
  parentPort.on('message', (m) => { if (m.stop) stop = true; });
  parentPort.once('message', async () => {
    while (!stop) {
      const start = performance.now();
      run();
      parentPort.postMessage({ latency: performance.now() - start });
      await new Promise((r) => setImmediate(r)); // let a stop message in
    }
    parentPort.postMessage({ done: true });
  });
} else {
  const [model, samples, threads, streams, seconds, language = 'en'] = process.argv.slice(2);
  const n = Number(streams);
  const audioSeconds = fs.statSync(samples).size / 4 / 16000;
  const each = Math.max(1, Math.floor(Number(threads) / n));
  const workers = Array.from({ length: n }, () => new Worker(new URL(import.meta.url), {
    workerData: { model, samples, threads: each, language },
  }));
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  let peakRSS = process.memoryUsage().rss;
  const latencies = [];
  const start = performance.now();
  const done = workers.map((w) => new Promise((resolve) => {
    w.on('message', (m) => {
      if (m.latency !== undefined) latencies.push(m.latency);
      peakRSS = Math.max(peakRSS, process.memoryUsage().rss);
      if (m.done) resolve();
    });
    w.postMessage({ go: true });
  }));
  setTimeout(() => workers.forEach((w) => w.postMessage({ stop: true })), Number(seconds) * 1000);
  await Promise.all(done);
  const elapsed = (performance.now() - start) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  latencies.sort((a, b) => a - b);
  const pct = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  console.log(JSON.stringify({
    audio_s_per_s: (latencies.length * audioSeconds) / elapsed,
    requests: latencies.length,
    threads_per_stream: each,
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    peak_rss_mb: peakRSS / 1e6,
  }));
}
