package tokenize

import "testing"

// FuzzBERTEncode runs arbitrary text, valid UTF-8 or not, through the real
// bert-base-uncased tokenizer: no panic, [CLS] … [SEP] framing, every id in
// the vocabulary, and truncation to exactly maxLen when it applies.
func FuzzBERTEncode(f *testing.F) {
	b := realBERT(f)
	for _, s := range []string{"Hello, World!", "naïve café 東京 🙂", "", "\x00\xff\xfe", "a\u0301\u0301\u0301", "[CLS] [SEP] [MASK]",
		"supercalifragilisticexpialidocious-and-then-some", "\u200b\u2028\u00a0\t\r\n"} {
		f.Add(s, uint16(512))
		f.Add(s, uint16(3))
	}
	const vocab = 30522 // bert-base-uncased
	f.Fuzz(func(t *testing.T, text string, maxLen uint16) {
		limit := int(maxLen%600) + 2 // the engine never asks for fewer than [CLS] [SEP]
		ids, full, truncated, err := b.Encode(text, limit)
		if err != nil {
			t.Fatalf("Encode(%q): %v", text, err)
		}
		if len(ids) < 2 || ids[0] != 101 || ids[len(ids)-1] != 102 {
			t.Fatalf("Encode(%q) = %v: not framed by [CLS] … [SEP]", text, ids)
		}
		if truncated != (full > limit) || len(ids) != min(full, limit) {
			t.Fatalf("Encode(%q, %d): %d ids, full %d, truncated %v", text, limit, len(ids), full, truncated)
		}
		for _, id := range ids {
			if id < 0 || int(id) >= vocab {
				t.Fatalf("Encode(%q): id %d outside the vocabulary of %d", text, id, vocab)
			}
		}
		// Each piece comes from at least one character of the normalized
		// input, which decomposition can lengthen, but only by a bounded factor.
		if full > 3*len(text)+2 {
			t.Fatalf("Encode(%q): %d ids from %d bytes", text, full, len(text))
		}
	})
}
