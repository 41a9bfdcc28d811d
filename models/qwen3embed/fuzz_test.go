package qwen3embed

import (
	"context"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzEncode feeds arbitrary text and instructions through the backend's
// tokenization: it never panics, rejects only invalid UTF-8, and every
// sequence ends in <|endoftext|> within the limit.
func FuzzEncode(f *testing.F) {
	tok, err := loadTokenizer(filepath.Join(modelDir(), "tokenizer.json"))
	if err != nil {
		f.Fatal(err)
	}
	eot, _ := tok.TokenID(endOfText)
	for _, s := range []string{"", "hello world", "naïve café 東京 🙂", "a\nb\tc  d", "<|endoftext|>", "\xff\xfe", "Query:"} {
		f.Add(s, "Given a web search query", uint8(16))
	}
	f.Fuzz(func(t *testing.T, text, instruction string, limit uint8) {
		m := &Model{tok: tok, eot: eot, maxTokens: 2 + int(limit)}
		ids, full, truncated, err := m.encode(context.Background(), QueryText(instruction, text), "queries[0]")
		if err != nil {
			if utf8.ValidString(text) && utf8.ValidString(instruction) {
				t.Fatalf("valid text refused: %v", err)
			}
			return
		}
		if len(ids) == 0 || ids[len(ids)-1] != eot || len(ids) > m.maxTokens || full < len(ids) || truncated != (full > m.maxTokens) {
			t.Fatalf("ids %v (full %d, truncated %v) for limit %d", ids, full, truncated, m.maxTokens)
		}
	})
}
