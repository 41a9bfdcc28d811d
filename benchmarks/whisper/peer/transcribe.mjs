// Runs whisper.cpp (prebuilt through @napi-rs/whisper) once on raw audio,
// for the ggml parity test of models/synth: prints one JSON line with the
// model's hyperparameters as whisper.cpp read them and the text it decoded.
// Usage: node transcribe.mjs MODEL.bin SAMPLES.f32 [OPTIONS.json]
// SAMPLES.f32 is 16 kHz mono float32 little-endian. OPTIONS sets
// WhisperFullParams fields by name (e.g. noTimestamps, suppressRegex,
// maxTokens, temperature).
import fs from 'node:fs';
import { Whisper, WhisperFullParams, WhisperSamplingStrategy } from '@napi-rs/whisper';

const [modelPath, samplesPath, optionsPath] = process.argv.slice(2);
// whisper.cpp logs to stderr (@napi-rs/whisper 0.0.4's setupLogger aborts
// the process when whisper.cpp logs from a constructor).

const raw = fs.readFileSync(samplesPath);
const samples = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const whisper = new Whisper(fs.readFileSync(modelPath), { useGpu: false });
const params = new WhisperFullParams(WhisperSamplingStrategy.Greedy);
params.nThreads = 1;
params.printProgress = false;
params.printRealtime = false;
params.printTimestamps = false;
params.language = 'en';
const options = optionsPath ? JSON.parse(fs.readFileSync(optionsPath, 'utf8')) : {};
for (const [k, v] of Object.entries(options)) params[k] = v;
const text = whisper.full(params, samples);
console.log(JSON.stringify({
  hparams: {
    n_vocab: whisper.modelNVocab, n_audio_ctx: whisper.modelNAudioCtx, n_audio_state: whisper.modelNAudioState,
    n_audio_head: whisper.modelNAudioHead, n_audio_layer: whisper.modelNAudioLayer, n_text_ctx: whisper.modelNTextCtx,
    n_text_state: whisper.modelNTextState, n_text_head: whisper.modelNTextHead, n_text_layer: whisper.modelNTextLayer,
    n_mels: whisper.modelNMels, ftype: whisper.modelFtype,
  },
  text,
}));
