package synth

import (
	"encoding/json"
	"fmt"
	"strings"
)

// embeddingGemmaTokenizerJSON is a STAND-IN for GemmaTokenizerJSON, which the
// tokenizer work (tokenize/hf) is adding: a tokenizer.json in Gemma's shape
// (the four specials at Gemma's ids, byte fallback, "<bos> $A <eos>") with a
// few hundred whole-word pieces and no merges. It exists only so the
// EmbeddingGemma generator and backend can be built before that lands, and
// goes away then.
func embeddingGemmaTokenizerJSON(p Preset) ([]byte, error) {
	specials := []string{"<pad>", "<eos>", "<bos>", "<unk>", "<mask>"}
	vocab := map[string]int{}
	var added []map[string]any
	for i, s := range specials {
		vocab[s] = i
		added = append(added, map[string]any{"id": i, "content": s, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true})
	}
	for b := range 256 {
		vocab[fmt.Sprintf("<0x%02X>", b)] = len(vocab)
	}
	words := strings.Fields(`the a an of to in and is was for on with as by at from that this it be are
		quick brown fox jumps over lazy dog hello world search query result text title none what which
		planet known red mars venus jupiter saturn ring ocean river mountain city country language model
		embedding vector batch padding token sentence long short word many make input one two three
		. , ! ? : | - ( ) 0 1 2 3 4 5 6 7 8 9`)
	for _, w := range words {
		for _, piece := range []string{w, "▁" + w} {
			if _, ok := vocab[piece]; !ok {
				vocab[piece] = len(vocab)
			}
		}
	}
	vocab["▁"] = len(vocab)
	special := func(tok string) map[string]any {
		return map[string]any{"SpecialToken": map[string]any{"id": tok, "type_id": 0}}
	}
	tj := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added,
		"normalizer":    map[string]any{"type": "Replace", "pattern": map[string]string{"String": " "}, "content": "▁"},
		"pre_tokenizer": map[string]any{"type": "Split", "pattern": map[string]string{"String": " "}, "behavior": "MergedWithPrevious", "invert": false},
		"post_processor": map[string]any{
			"type":   "TemplateProcessing",
			"single": []any{special("<bos>"), map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, special("<eos>")},
			"pair": []any{special("<bos>"), map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, special("<eos>"),
				map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}, special("<eos>")},
			"special_tokens": map[string]any{
				"<bos>": map[string]any{"id": "<bos>", "ids": []int{2}, "tokens": []string{"<bos>"}},
				"<eos>": map[string]any{"id": "<eos>", "ids": []int{1}, "tokens": []string{"<eos>"}},
			},
		},
		"decoder": nil,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": "<unk>", "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
			"vocab": vocab, "merges": []string{}},
	}
	return json.MarshalIndent(tj, "", " ")
}
