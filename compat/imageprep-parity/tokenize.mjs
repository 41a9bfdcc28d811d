// Encodes text with a Hugging Face tokenizer.json, fully offline, for
// edgeinfer's tokenizer parity tests (tokenize/hf against Hugging Face).
//
//   node tokenize.mjs ENGINE TOKENIZER_DIR CASES_FILE
//
// ENGINE is "rust" (Hugging Face's tokenizers library itself: the npm
// package `tokenizers`, its Node binding with the compiled Rust library) or
// "js" (transformers.js's AutoTokenizer, the @huggingface/tokenizers port).
// TOKENIZER_DIR holds tokenizer.json (and tokenizer_config.json for js).
// CASES_FILE has one JSON object per line: {"a": text, "b"?: pair text,
// "max"?: max_length}. For each case stdout gets one line: the ids as a
// JSON array, with the special tokens of the post-processor. "max" truncates
// with the "longest_first" strategy (rust only: transformers.js has no
// truncation strategy and cuts the end of the ids, special tokens included).
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [engine, dir, casesFile] = process.argv.slice(2);
if (!engine || !dir || !casesFile) {
    console.error('usage: node tokenize.mjs rust|js TOKENIZER_DIR CASES_FILE');
    process.exit(2);
}
const cases = readFileSync(casesFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));

const out = [];
if (engine === 'rust') {
    const { Tokenizer } = await import('tokenizers');
    const tok = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
    let truncation = 0;
    for (const c of cases) {
        const max = c.max ?? 0;
        if (max !== truncation) {
            if (max === 0) tok.disableTruncation();
            else tok.setTruncation(max, { strategy: 'LongestFirst' });
            truncation = max;
        }
        const enc = await tok.encode(c.a, c.b ?? null);
        out.push(JSON.stringify(enc.getIds()));
    }
} else if (engine === 'js') {
    const { env, AutoTokenizer } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = path.dirname(path.resolve(dir)) + path.sep;
    const tok = await AutoTokenizer.from_pretrained(path.basename(path.resolve(dir)), { local_files_only: true });
    for (const c of cases) {
        if (c.max) throw new Error('js: truncation is not compared (see the header)');
        out.push(JSON.stringify(tok.encode(c.a, { text_pair: c.b ?? null })));
    }
} else {
    console.error(`unknown engine ${engine}`);
    process.exit(2);
}
process.stdout.write(out.join('\n') + '\n');
