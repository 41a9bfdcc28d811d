// Encodes without special tokens and decodes ids with Hugging Face's
// tokenizers library (the npm package `tokenizers`, the Rust library's Node
// binding), fully offline, for edgeinfer's tokenizer parity tests
// (tokenize/hf's EncodeText and Decode).
//
//   node hfdecode.mjs TOKENIZER_JSON CASES_FILE
//
// CASES_FILE has one JSON object per line, either {"encode": text} (ids of
// text with add_special_tokens false) or {"decode": ids, "skip": bool}
// (decode with skip_special_tokens). For each case stdout gets one JSON
// line: the ids, or the decoded string.
import { readFileSync } from 'node:fs';

const [file, casesFile] = process.argv.slice(2);
if (!file || !casesFile) {
    console.error('usage: node hfdecode.mjs TOKENIZER_JSON CASES_FILE');
    process.exit(2);
}
const { Tokenizer } = await import('tokenizers');
const tok = Tokenizer.fromFile(file);
const cases = readFileSync(casesFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
const out = [];
for (const c of cases) {
    if (c.encode !== undefined) {
        const enc = await tok.encode(c.encode, null, { addSpecialTokens: false });
        out.push(JSON.stringify(enc.getIds()));
    } else {
        out.push(JSON.stringify(await tok.decode(c.decode ?? [], !!c.skip)));
    }
}
process.stdout.write(out.join('\n') + '\n');
