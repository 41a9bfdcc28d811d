#!/usr/bin/env bash
# Regenerates nmt_nfkc.charsmap: the precompiled normalization map (a Darts
# double-array trie plus replacement strings) that SentencePiece stores in
# normalizer_spec.precompiled_charsmap of every model trained with
# --normalization_rule_name=nmt_nfkc, M2M100's sentencepiece.bpe.model included.
# The map comes from SentencePiece's built-in rules, not from the training text,
# so a throwaway model yields the same bytes. Needs: apt-get install sentencepiece.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
command -v spm_train >/dev/null || { echo "missing spm_train: apt-get install sentencepiece" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'charsmap donor\nanother line of text\n' >"$tmp/text.txt"
spm_train --input="$tmp/text.txt" --model_prefix="$tmp/donor" --vocab_size=30 \
	--model_type=bpe --normalization_rule_name=nmt_nfkc --minloglevel=2 >/dev/null 2>&1

# ModelProto field 3 is normalizer_spec; NormalizerSpec field 2 is
# precompiled_charsmap. Both are length-delimited; walk the wire format.
python3 - "$tmp/donor.model" "$here/nmt_nfkc.charsmap" <<'PY'
import sys

def varint(b, i):
    shift = value = 0
    while True:
        c = b[i]; i += 1
        value |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return value, i

def field(b, want):
    i, found = 0, None
    while i < len(b):
        key, i = varint(b, i)
        num, typ = key >> 3, key & 7
        if typ == 0:
            _, i = varint(b, i)
        elif typ == 1:
            i += 8
        elif typ == 5:
            i += 4
        elif typ == 2:
            n, i = varint(b, i)
            if num == want:
                found = b[i:i + n]
            i += n
        else:
            raise SystemExit(f"unexpected wire type {typ}")
    return found

model = open(sys.argv[1], "rb").read()
charsmap = field(field(model, 3), 2)
open(sys.argv[2], "wb").write(charsmap)
print(f"wrote {len(charsmap)} bytes to {sys.argv[2]}")
PY
