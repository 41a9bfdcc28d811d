// Runs transformers.js's image processor (AutoImageProcessor, e.g. the
// ConvNext processor of microsoft/resnet-50) on image files, fully offline,
// and writes each result as raw little-endian float32 CHW.
//
//   node preprocess.mjs MODEL_DIR OUT_DIR IMAGE...
//
// MODEL_DIR holds preprocessor_config.json. For each IMAGE, OUT_DIR gets
// <basename>.f32, and stdout gets one JSON line:
//   {"file": ..., "dims": [3, H, W], "out": ".../<basename>.f32"}
// This is the peer for edgeinfer's imageprep parity test; the Go side reads
// the tensors and compares them with its own.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { env, AutoImageProcessor, RawImage } from '@huggingface/transformers';

const [modelDir, outDir, ...images] = process.argv.slice(2);
if (!modelDir || !outDir || images.length === 0) {
    console.error('usage: node preprocess.mjs MODEL_DIR OUT_DIR IMAGE...');
    process.exit(2);
}

// Offline: the model folder is addressed as <localModelPath>/<name>.
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(modelDir)) + path.sep;

const processor = await AutoImageProcessor.from_pretrained(path.basename(path.resolve(modelDir)));

for (const file of images) {
    const image = await RawImage.read(file);
    const { pixel_values } = await processor(image);
    // pixel_values is [1, 3, H, W]; drop the batch axis.
    const dims = pixel_values.dims.slice(1);
    const data = pixel_values.data;
    const out = path.join(outDir, path.basename(file) + '.f32');
    await writeFile(out, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    console.log(JSON.stringify({ file, dims, out }));
}
