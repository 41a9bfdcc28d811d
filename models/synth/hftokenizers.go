package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// Hugging Face tokenizer.json files of the synthetic embedding models: a
// Qwen3 one (Qwen/Qwen3-Embedding-0.6B: NFC, the Qwen2 split regex,
// byte-level BPE, <|endoftext|> appended) and a Gemma 3 one
// (google/embeddinggemma-300m: spaces as "▁", BPE with byte fallback, <bos>
// … <eos>). Sections, special tokens and flags are those of the real files;
// vocabulary and merges are learnt from an embedded multilingual corpus by
// the chat families' builders (newBPEVocab, newSPMVocab in llmvocab.go), so
// merges fire on CJK, Arabic, Cyrillic, accents and the like. The tiny
// presets are small; the full ones have the real id counts (151,669 for
// Qwen3, 262,144 for Gemma 3).

// hfTokenizerCorpus is what the vocabularies learn from: the multilingual
// M2M100 corpus line by line, and an English word list.
func hfTokenizerCorpus() []string {
	corpus := strings.Split(strings.TrimSpace(m2m100Corpus), "\n")
	for _, w := range llamaWords {
		corpus = append(corpus, w, " "+w)
	}
	return corpus
}

// Id counts of the presets.
const (
	qwen3TinyVocab = 6000
	qwen3FullVocab = 151643 // Qwen2/3's BPE vocabulary; added tokens follow
	gemmaTinyVocab = 4000
	gemmaFullVocab = 262144 // Gemma 3, special tokens included
)

// qwen3AddedTokens are Qwen3's added tokens in id order after the BPE
// vocabulary, with their "special" flag (tokenizer.json of Qwen/Qwen3-*).
var qwen3AddedTokens = []struct {
	content string
	special bool
}{
	{"<|endoftext|>", true}, {"<|im_start|>", true}, {"<|im_end|>", true},
	{"<|object_ref_start|>", true}, {"<|object_ref_end|>", true},
	{"<|box_start|>", true}, {"<|box_end|>", true},
	{"<|quad_start|>", true}, {"<|quad_end|>", true},
	{"<|vision_start|>", true}, {"<|vision_end|>", true},
	{"<|vision_pad|>", true}, {"<|image_pad|>", true}, {"<|video_pad|>", true},
	{"<tool_call>", false}, {"</tool_call>", false},
	{"<|fim_prefix|>", false}, {"<|fim_middle|>", false}, {"<|fim_suffix|>", false}, {"<|fim_pad|>", false},
	{"<|repo_name|>", false}, {"<|file_sep|>", false},
	{"<tool_response>", false}, {"</tool_response>", false},
	{"<think>", false}, {"</think>", false},
}

// Qwen3TokenizerJSON returns the tokenizer.json of the synthetic Qwen3
// embedding model for preset p.
func Qwen3TokenizerJSON(p Preset) ([]byte, error) {
	return memoTokenizer("qwen3", p, buildQwen3Tokenizer)
}

// GemmaTokenizerJSON returns the tokenizer.json of the synthetic
// EmbeddingGemma model for preset p.
func GemmaTokenizerJSON(p Preset) ([]byte, error) {
	return memoTokenizer("gemma", p, buildGemmaTokenizer)
}

var hfTokenizerMemo sync.Map // "family/preset" → []byte

// memoTokenizer builds a file once per family and preset; callers get a copy.
func memoTokenizer(family string, p Preset, build func(Preset) ([]byte, error)) ([]byte, error) {
	key := family + "/" + string(p)
	if b, ok := hfTokenizerMemo.Load(key); ok {
		return bytes.Clone(b.([]byte)), nil
	}
	b, err := build(p)
	if err != nil {
		return nil, fmt.Errorf("%s tokenizer.json: %w", family, err)
	}
	hfTokenizerMemo.Store(key, b)
	return bytes.Clone(b), nil
}

func buildQwen3Tokenizer(p Preset) ([]byte, error) {
	size := qwen3TinyVocab
	if p == Full {
		size = qwen3FullVocab
	}
	v, err := newBPEVocab(size, qwenPretokenizer, hfTokenizerCorpus(), nil)
	if err != nil {
		return nil, err
	}
	added := make([]hfAddedToken, len(qwen3AddedTokens))
	for i, t := range qwen3AddedTokens {
		added[i] = hfAddedToken{ID: size + i, Content: t.content, Special: t.special}
	}
	eot := added[0]
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}
	merges := make([]string, len(v.merges))
	copy(merges, v.merges) // "a b" lines, as Qwen's files write them
	return writeHFTokenizer(hfTokenizerFile{
		Version:    "1.0",
		AddedToken: added,
		Normalizer: map[string]any{"type": "NFC"},
		PreTokenizer: map[string]any{"type": "Sequence", "pretokenizers": []any{
			hfOrdered{{"type", "Split"}, {"pattern", map[string]string{"Regex": qwenPretokenizer}}, {"behavior", "Isolated"}, {"invert", false}},
			hfOrdered{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}},
		}},
		// Qwen3-Embedding appends <|endoftext|>, on whose state the
		// model's last-token pooling reads the embedding.
		PostProcessor: hfTemplate(nil, []hfAddedToken{eot}),
		Decoder:       byteLevel,
		Model: hfOrdered{
			{"type", "BPE"}, {"dropout", nil}, {"unk_token", nil},
			{"continuing_subword_prefix", ""}, {"end_of_word_suffix", ""},
			{"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
			{"vocab", hfVocab(v.tokens)}, {"merges", merges},
		},
	})
}

// gemmaSpecials are EmbeddingGemma's leading control tokens, ids 0 up:
// <pad> <eos> <bos> <unk> <mask> [@BOS@] <unused0>…<unused98>
// <start_of_turn> <end_of_turn>.
func gemmaSpecials() []llmSpecial {
	s := []llmSpecial{{"<pad>", tokControl}, {"<eos>", tokControl}, {"<bos>", tokControl},
		{"<unk>", tokControl}, {"<mask>", tokControl}, {"[@BOS@]", tokControl}}
	for i := range 99 {
		s = append(s, llmSpecial{fmt.Sprintf("<unused%d>", i), tokControl})
	}
	return append(s, llmSpecial{"<start_of_turn>", tokControl}, llmSpecial{"<end_of_turn>", tokControl})
}

func buildGemmaTokenizer(p Preset) ([]byte, error) {
	size := gemmaTinyVocab
	if p == Full {
		size = gemmaFullVocab
	}
	specials := gemmaSpecials()
	v, err := newSPMVocab(size, hfTokenizerCorpus(), specials, 3)
	if err != nil {
		return nil, err
	}
	added := make([]hfAddedToken, len(specials))
	for i, s := range specials {
		added[i] = hfAddedToken{ID: i, Content: s.text, Special: true}
	}
	bos, eos := added[2], added[1]
	return writeHFTokenizer(hfTokenizerFile{
		Version:      "1.0",
		AddedToken:   added,
		Normalizer:   hfOrdered{{"type", "Replace"}, {"pattern", map[string]string{"String": " "}}, {"content", spaceMark}},
		PreTokenizer: hfOrdered{{"type", "Split"}, {"pattern", map[string]string{"String": " "}}, {"behavior", "MergedWithPrevious"}, {"invert", false}},
		// EmbeddingGemma adds both <bos> and <eos> (add_bos_token and
		// add_eos_token in its tokenizer_config.json).
		PostProcessor: hfTemplate([]hfAddedToken{bos}, []hfAddedToken{eos}),
		Decoder: map[string]any{"type": "Sequence", "decoders": []any{
			hfOrdered{{"type", "Replace"}, {"pattern", map[string]string{"String": spaceMark}}, {"content", " "}},
			map[string]string{"type": "ByteFallback"},
			map[string]string{"type": "Fuse"},
		}},
		Model: hfOrdered{
			{"type", "BPE"}, {"dropout", nil}, {"unk_token", "<unk>"},
			{"continuing_subword_prefix", nil}, {"end_of_word_suffix", nil},
			{"fuse_unk", true}, {"byte_fallback", true}, {"ignore_merges", false},
			{"vocab", hfVocab(v.tokens)}, {"merges", spmMerges(v)},
		},
	})
}

// spmMerges derives BPE merges from a SentencePiece vocabulary as
// transformers' SentencePieceExtractor does: for each piece, by score (here
// id order), every split into two pieces of the vocabulary, those ordered
// by the ids of their left then right parts. Special and byte pieces take
// no part. Written as ["a", "b"] pairs, as recent tokenizers save them.
func spmMerges(v *llmVocab) [][2]string {
	ids := map[string]int{}
	for i, t := range v.tokens {
		if v.kinds[i] != tokKindSpecial && v.kinds[i] != tokKindByte {
			ids[t] = i
		}
	}
	var out [][2]string
	for i, t := range v.tokens {
		if v.kinds[i] == tokKindSpecial || v.kinds[i] == tokKindByte {
			continue
		}
		start := len(out)
		for k := range t {
			if k == 0 {
				continue
			}
			if _, ok := ids[t[:k]]; !ok {
				continue
			}
			if _, ok := ids[t[k:]]; ok {
				out = append(out, [2]string{t[:k], t[k:]})
			}
		}
		local := out[start:]
		// A piece has few splits: insertion sort by (left id, right id).
		for a := 1; a < len(local); a++ {
			for b := a; b > 0 && hfPairLess(ids, local[b], local[b-1]); b-- {
				local[b], local[b-1] = local[b-1], local[b]
			}
		}
	}
	return out
}

func hfPairLess(ids map[string]int, x, y [2]string) bool {
	if ids[x[0]] != ids[y[0]] {
		return ids[x[0]] < ids[y[0]]
	}
	return ids[x[1]] < ids[y[1]]
}

// Qwen3TokenizerConfigJSON is the tokenizer_config.json that goes with
// Qwen3TokenizerJSON, as Qwen/Qwen3-Embedding-0.6B has it (Qwen2Tokenizer,
// pad <|endoftext|>, eos <|im_end|>), without the chat template. It sets no
// padding_side: the model card's code asks for padding_side="left" when it
// loads the tokenizer, so padding on the left is the caller's choice.
func Qwen3TokenizerConfigJSON(p Preset) ([]byte, error) {
	size := qwen3TinyVocab
	if p == Full {
		size = qwen3FullVocab
	}
	decoder := hfOrdered{}
	var additional []string
	for i, t := range qwen3AddedTokens {
		decoder = append(decoder, hfField{fmt.Sprint(size + i), hfAddedTokenFields(t.content, t.special)})
		if t.special && t.content != "<|endoftext|>" {
			additional = append(additional, t.content)
		}
	}
	return marshalHF(hfOrdered{
		{"add_bos_token", false},
		{"add_prefix_space", false},
		{"added_tokens_decoder", decoder},
		{"additional_special_tokens", additional},
		{"bos_token", nil},
		{"clean_up_tokenization_spaces", false},
		{"eos_token", "<|im_end|>"},
		{"errors", "replace"},
		{"model_max_length", 131072},
		{"pad_token", "<|endoftext|>"},
		{"split_special_tokens", false},
		{"tokenizer_class", "Qwen2Tokenizer"},
		{"unk_token", nil},
	})
}

// GemmaTokenizerConfigJSON is the tokenizer_config.json that goes with
// GemmaTokenizerJSON, as google/embeddinggemma-300m has it: GemmaTokenizer
// adding <bos> and <eos>, padding on the right with <pad>, 2,048 tokens.
func GemmaTokenizerConfigJSON() ([]byte, error) {
	decoder := hfOrdered{}
	for i, s := range gemmaSpecials() {
		decoder = append(decoder, hfField{fmt.Sprint(i), hfAddedTokenFields(s.text, true)})
	}
	return marshalHF(hfOrdered{
		{"add_bos_token", true},
		{"add_eos_token", true},
		{"added_tokens_decoder", decoder},
		{"additional_special_tokens", []string{"<start_of_turn>", "<end_of_turn>"}},
		{"bos_token", "<bos>"},
		{"clean_up_tokenization_spaces", false},
		{"eos_token", "<eos>"},
		{"mask_token", "<mask>"},
		{"model_max_length", 2048},
		{"pad_token", "<pad>"},
		{"padding_side", "right"},
		{"sp_model_kwargs", map[string]any{}},
		{"spaces_between_special_tokens", false},
		{"tokenizer_class", "GemmaTokenizer"},
		{"unk_token", "<unk>"},
		{"use_default_system_prompt", false},
	})
}

func hfAddedTokenFields(content string, special bool) hfOrdered {
	return hfOrdered{{"content", content}, {"lstrip", false}, {"normalized", false},
		{"rstrip", false}, {"single_word", false}, {"special", special}}
}

// The tokenizer.json layout, in the real files' key order.
type hfTokenizerFile struct {
	Version       string         `json:"version"`
	Truncation    any            `json:"truncation"`
	Padding       any            `json:"padding"`
	AddedToken    []hfAddedToken `json:"added_tokens"`
	Normalizer    any            `json:"normalizer"`
	PreTokenizer  any            `json:"pre_tokenizer"`
	PostProcessor any            `json:"post_processor"`
	Decoder       any            `json:"decoder"`
	Model         any            `json:"model"`
}

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// hfTemplate is a TemplateProcessing post-processor: before, $A, after for
// one text; the same around $B (type id 1) for a pair.
func hfTemplate(before, after []hfAddedToken) hfOrdered {
	piece := func(typeID int, seq string, toks []hfAddedToken) []any {
		var out []any
		for _, t := range toks {
			out = append(out, map[string]any{"SpecialToken": hfOrdered{{"id", t.Content}, {"type_id", typeID}}})
		}
		if seq != "" {
			out = append(out, map[string]any{"Sequence": hfOrdered{{"id", seq}, {"type_id", typeID}}})
		}
		return out
	}
	seq := func(typeID int, id string) []any {
		out := piece(typeID, "", before)
		out = append(out, piece(typeID, id, nil)...)
		return append(out, piece(typeID, "", after)...)
	}
	special := hfOrdered{}
	for _, t := range append(append([]hfAddedToken(nil), before...), after...) {
		special = append(special, hfField{t.Content, hfOrdered{{"id", t.Content}, {"ids", []int{t.ID}}, {"tokens", []string{t.Content}}}})
	}
	return hfOrdered{
		{"type", "TemplateProcessing"},
		{"single", seq(0, "A")},
		{"pair", append(seq(0, "A"), seq(1, "B")...)},
		{"special_tokens", special},
	}
}

// hfOrdered is a JSON object that keeps its keys in order.
type hfOrdered []hfField

type hfField struct {
	key   string
	value any
}

func (o hfOrdered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(f.key)
		if err != nil {
			return nil, err
		}
		v, err := marshalNoEscape(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// hfVocab is a vocab object, token → id in id order.
type hfVocab []string

func (v hfVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, t := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(t)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		fmt.Fprintf(&b, ":%d", i)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalNoEscape is json.Marshal without HTML escaping ("<" stays "<", as
// in the real files).
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// marshalHF writes v indented by two spaces, as the real files are.
func marshalHF(v any) ([]byte, error) {
	raw, err := marshalNoEscape(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func writeHFTokenizer(f hfTokenizerFile) ([]byte, error) { return marshalHF(f) }
