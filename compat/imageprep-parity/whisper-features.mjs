// Runs transformers.js's WhisperFeatureExtractor on raw audio, fully
// offline, and writes each result as raw little-endian float32.
//
//   node whisper-features.mjs MODEL_DIR OUT_DIR AUDIO.f32...
//
// MODEL_DIR holds preprocessor_config.json; each AUDIO.f32 is mono 16 kHz
// little-endian float32. For each, OUT_DIR gets <basename>.mel and stdout
// one JSON line: {"file": ..., "dims": [bins, frames], "out": ...}.
// This is the peer for edgeinfer's audioprep parity test.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { env, AutoFeatureExtractor } from '@huggingface/transformers';

const [modelDir, outDir, ...inputs] = process.argv.slice(2);
if (!modelDir || !outDir || inputs.length === 0) {
    console.error('usage: node whisper-features.mjs MODEL_DIR OUT_DIR AUDIO.f32...');
    process.exit(2);
}

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(modelDir)) + path.sep;

const extractor = await AutoFeatureExtractor.from_pretrained(path.basename(path.resolve(modelDir)));

for (const file of inputs) {
    const raw = await readFile(file);
    const audio = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    const { input_features } = await extractor(audio);
    const dims = input_features.dims.slice(1);
    const data = input_features.data;
    const out = path.join(outDir, path.basename(file) + '.mel');
    await writeFile(out, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    console.log(JSON.stringify({ file, dims, out }));
}
