package hf

import (
	"slices"
	"testing"
)

// FuzzHFEncode encodes arbitrary bytes, invalid UTF-8 included, alone and
// as a pair with the synthetic XLM-R tokenizer: no panic, no error when the
// limit leaves room for the special tokens, every id in the vocabulary,
// the limit and the truncation report honoured, a cut single text the
// prefix of the uncut one.
func FuzzHFEncode(f *testing.F) {
	tok := xlmrTiny(f)
	vocab := int64(len(tok.model.(*unigram).scores))
	for _, s := range []string{"", " ", "hello <mask> world", "\x00\xff\xfe", "ｶﾞ Ａ\u0301 👨\u200d👩\u200d👧", "<s></s><pad>",
		"\u0301\u0301", "東京 Москва القاهرة", "\r\n\t  \u3000x"} {
		f.Add(s, "query", uint16(0))
		f.Add("query", s, uint16(7))
	}
	f.Fuzz(func(t *testing.T, a, b string, limit uint16) {
		max := int(limit % 600)
		if max > 0 && max < 4 {
			max += 4
		}
		check := func(what string, ids []int64, full int, truncated bool, err error) {
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			for _, id := range ids {
				if id < 0 || id >= vocab {
					t.Fatalf("%s: id %d outside the %d-piece vocabulary", what, id, vocab)
				}
			}
			if max > 0 && len(ids) > max || truncated != (len(ids) < full) || truncated != (max > 0 && full > max) {
				t.Fatalf("%s: %d ids, full %d, truncated %v, limit %d", what, len(ids), full, truncated, max)
			}
		}
		ids, full, truncated, err := tok.Encode(a, max)
		check("Encode", ids, full, truncated, err)
		if truncated {
			all, _, _, _ := tok.Encode(a, 0)
			if !slices.Equal(ids[:len(ids)-1], all[:len(ids)-1]) || ids[len(ids)-1] != all[len(all)-1] {
				t.Fatalf("Encode: cut ids %v are not a prefix of %v plus </s>", ids, all)
			}
		}
		ids, full, truncated, err = tok.EncodePair(a, b, max)
		check("EncodePair", ids, full, truncated, err)
	})
}

// FuzzHFParse parses arbitrary bytes as tokenizer.json: an error or a
// tokenizer, never a panic; what parses encodes.
func FuzzHFParse(f *testing.F) {
	for _, s := range []string{
		`{"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",-1],["▁a",-2]]},"pre_tokenizer":{"type":"Metaspace","replacement":"▁","add_prefix_space":true}}`,
		`{"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["<0x61>",-1]],"byte_fallback":true},"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}]}}`,
		`{"added_tokens":[{"id":1,"content":"<s>","special":true,"lstrip":true,"rstrip":true,"single_word":true}],"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["<s>",0]]},"post_processor":{"type":"RobertaProcessing","sep":["<s>",1],"cls":["<s>",1]}}`,
		`{"model":{"type":"Unigram","unk_id":0,"vocab":[["x",0]]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Metaspace","prepend_scheme":"first","split":false}]},"post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A"}}],"pair":[{"Sequence":{"id":"B"}},{"Sequence":{"id":"A"}}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		tok, err := Parse(raw)
		if err != nil {
			return
		}
		if _, _, _, err := tok.Encode("a <s> b\xff", 0); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := tok.EncodePair("a", "▁ab  a", 0); err != nil {
			t.Fatal(err)
		}
	})
}
