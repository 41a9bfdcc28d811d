// Runs transformers.js's word-timestamp machinery on given matrices, for
// edgeinfer's models/whisper alignment parity test:
//
//   node whisper-align.mjs CASES.json
//
// CASES.json is a list of cases; each gets one JSON line on stdout:
//   {"kind":"dtw","matrix":[[...]]}            → {"text":[...],"time":[...]}
//       dynamic_time_warping on the matrix as given (the package does not
//       export it or medianFilter: they come from its src/utils/maths.js,
//       the source the dist bundle is built from).
//   {"kind":"median","data":[...],"width":7}   → {"out":[...]}
//       medianFilter on a Float32Array of the data.
//   {"kind":"timestamps","layers":[[heads][rows][frames]...],
//    "alignment_heads":[[l,h]...],"num_frames":N,"num_input_ids":K}
//       → {"timestamps":[...]}: WhisperForConditionalGeneration's
//       _extract_token_timestamps over one step's cross attentions (batch 1)
//       and a sequence one token longer than the rows.
// Values are float32 numbers written as doubles.
import { readFile } from 'node:fs/promises';
import { Tensor, WhisperForConditionalGeneration } from '@huggingface/transformers';
import { dynamic_time_warping, medianFilter } from './node_modules/@huggingface/transformers/src/utils/maths.js';

const [casesFile] = process.argv.slice(2);
if (!casesFile) {
    console.error('usage: node whisper-align.mjs CASES.json');
    process.exit(2);
}

const cases = JSON.parse(await readFile(casesFile, 'utf8'));

function layerTensor(layer) {
    const heads = layer.length, rows = layer[0].length, frames = layer[0][0].length;
    const data = new Float32Array(heads * rows * frames);
    let k = 0;
    for (const head of layer) for (const row of head) for (const v of row) data[k++] = v;
    return new Tensor('float32', data, [1, heads, rows, frames]);
}

function timestamps(c) {
    const layers = c.layers.map(layerTensor);
    const rows = c.layers[0][0].length;
    const self = { config: { decoder_layers: layers.length, median_filter_width: 7 } };
    const outputs = {
        cross_attentions: [layers],
        sequences: new Tensor('int64', new BigInt64Array(rows + 1), [1, rows + 1]),
    };
    const ts = WhisperForConditionalGeneration.prototype._extract_token_timestamps.call(
        self, outputs, c.alignment_heads, c.num_frames, 0.02, c.num_input_ids);
    return { timestamps: Array.from(ts[0].data) };
}

for (const c of cases) {
    let out;
    if (c.kind === 'dtw') {
        const [text, time] = dynamic_time_warping(c.matrix);
        out = { text, time };
    } else if (c.kind === 'median') {
        out = { out: Array.from(medianFilter(Float32Array.from(c.data), c.width)) };
    } else if (c.kind === 'timestamps') {
        out = timestamps(c);
    } else {
        throw new Error(`unknown case kind ${c.kind}`);
    }
    console.log(JSON.stringify(out));
}
