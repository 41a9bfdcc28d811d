package synth

import (
	"encoding/json"
	"fmt"
	"strings"
)

// qwen3EmbeddingTokenizerJSON is a STAND-IN for Qwen3TokenizerJSON, which
// the tokenizer work (tokenize/hf) is adding: a tokenizer.json in Qwen3's
// shape (byte-level pieces, <|endoftext|> <|im_start|> <|im_end|> after the
// vocabulary, and the "$A <|endoftext|>" post-processor of
// Qwen3-Embedding's file) with the 256 byte pieces and a few hundred whole
// words, and no merges. It exists only so the generator and the backend
// can be built before that lands, and goes away then.
func qwen3EmbeddingTokenizerJSON(p Preset) ([]byte, error) {
	vocab := map[string]int{}
	for _, r := range byteLevelAlphabet() {
		vocab[string(r)] = len(vocab)
	}
	words := strings.Fields(`the a an of to in and is was for on with as by at from that this it be are
		what which who how where why capital china beijing gravity force planet known red mars
		quick brown fox jumps over lazy dog hello world search query web retrieve relevant passages
		answer given instruct document text code find many words make long input short sentence
		batch padding token one two three . , ! ? : - ( ) 0 1 2 3 4 5 6 7 8 9`)
	for _, w := range words {
		for _, piece := range []string{w, "Ġ" + w, "Ċ" + w} {
			if _, ok := vocab[piece]; !ok {
				vocab[piece] = len(vocab)
			}
		}
	}
	if p == Full {
		// Pad to the real vocabulary, so ids and the embedding table have
		// their real range: 151,643 pieces, then the added tokens.
		for i := len(vocab); i < 151643; i++ {
			vocab[fmt.Sprintf("<|piece_%d|>", i)] = i
		}
	}
	var added []map[string]any
	for _, s := range []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"} {
		added = append(added, map[string]any{"id": len(vocab) + len(added), "content": s, "single_word": false,
			"lstrip": false, "rstrip": false, "normalized": false, "special": true})
	}
	eot := added[0]["id"].(int)
	tj := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added,
		"normalizer":    map[string]any{"type": "NFC"},
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true},
		"post_processor": map[string]any{
			"type":   "TemplateProcessing",
			"single": []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "<|endoftext|>", "type_id": 0}}},
			"pair": []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "<|endoftext|>", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}, map[string]any{"SpecialToken": map[string]any{"id": "<|endoftext|>", "type_id": 1}}},
			"special_tokens": map[string]any{
				"<|endoftext|>": map[string]any{"id": "<|endoftext|>", "ids": []int{eot}, "tokens": []string{"<|endoftext|>"}},
			},
		},
		"decoder": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
			"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": []string{}},
	}
	return json.Marshal(tj)
}

// byteLevelAlphabet is GPT-2's byte-to-character map, which Qwen's
// byte-level BPE uses: entry b is the character byte b is written as.
// Printable Latin-1 bytes stand for themselves; the others are shifted to
// U+0100 and up, in byte order (so a space is 'Ġ' and a newline 'Ċ').
func byteLevelAlphabet() [256]rune {
	var out [256]rune
	next := rune(256)
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			out[b] = rune(b)
		} else {
			out[b] = next
			next++
		}
	}
	return out
}

// qwen3EndOfTextID is <|endoftext|>'s id in a preset's tokenizer.json.
func qwen3EndOfTextID(p Preset) (int, error) {
	raw, err := qwen3EmbeddingTokenizerJSON(p)
	if err != nil {
		return 0, err
	}
	var tj struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
	}
	if err := json.Unmarshal(raw, &tj); err != nil {
		return 0, err
	}
	for _, t := range tj.AddedTokens {
		if t.Content == "<|endoftext|>" {
			return t.ID, nil
		}
	}
	return 0, fmt.Errorf("qwen3 tokenizer.json has no <|endoftext|>")
}
