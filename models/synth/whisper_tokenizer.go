package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/edgeinfer/edgeinfer/engine"
)

// The tokenizer files of the synthetic Whisper models, in the layout of the
// Hugging Face exports (openai/whisper-tiny.en, openai/whisper-large-v3 and
// -turbo): GPT-2's byte-level BPE (ByteLevel pre-tokenizer with GPT-2's
// split regex, no normalizer, ByteLevel decoder) whose vocabulary and
// merges are learnt from the multilingual corpus, followed by Whisper's
// added tokens at their real ids. Both presets have the real sizes, so every
// special-token and timestamp id is the real one:
//
//   - English-only (tiny.en): 50,256 BPE tokens, <|endoftext|> 50256 (in the
//     vocabulary, as GPT-2's), <|startoftranscript|> 50257, 99 language
//     tokens 50258–50356, <|translate|> 50357, <|transcribe|> 50358,
//     <|startoflm|> 50359, <|startofprev|> 50360, <|nocaptions|> 50361,
//     <|notimestamps|> 50362, <|0.00|>…<|30.00|> 50363–51863 (51,864 ids).
//   - Multilingual (large-v3, turbo): 50,257 BPE tokens, <|endoftext|>
//     50257, <|startoftranscript|> 50258, 100 language tokens 50259–50358,
//     <|translate|> 50359, <|transcribe|> 50360, <|startoflm|> 50361,
//     <|startofprev|> 50362, <|nospeech|> 50363, <|notimestamps|> 50364,
//     <|0.00|>…<|30.00|> 50365–51865 (51,866 ids).
//
// The order is openai-whisper's get_encoding (tokenizer.py) and transformers'
// convert_openai_to_hf.py: end of text, start of transcript, the languages
// in LANGUAGES order, six control tokens, 1,501 timestamps 0.02 s apart. As
// in GPT-2, the 256 byte tokens come first in the order of the byte-level
// alphabet, so " " is 220 (the id Whisper's begin_suppress_tokens name).

// whisperLayout is where one family's tokens sit.
type whisperLayout struct {
	bpeTokens int    // BPE vocabulary, ids 0…bpeTokens-1
	eotInBPE  bool   // <|endoftext|> is the last vocabulary entry (GPT-2's)
	languages int    // language tokens
	noSpeech  string // <|nocaptions|> (English-only, v1) or <|nospeech|> (v2+)
}

func whisperLayoutOf(multilingual bool) whisperLayout {
	if multilingual {
		return whisperLayout{bpeTokens: 50257, languages: 100, noSpeech: "<|nospeech|>"}
	}
	return whisperLayout{bpeTokens: 50256, eotInBPE: true, languages: 99, noSpeech: "<|nocaptions|>"}
}

// addedTokens are Whisper's added tokens in id order: special ones
// (normalized false) then the timestamps, which transformers adds as
// ordinary tokens (special false, normalized true).
func (l whisperLayout) addedTokens() []hfAddedToken {
	var out []hfAddedToken
	add := func(content string, special bool) {
		out = append(out, hfAddedToken{Content: content, Special: special, Normalized: !special})
	}
	add("<|endoftext|>", true)
	add("<|startoftranscript|>", true)
	for _, lang := range engine.SpeechLanguages[:l.languages] {
		add("<|"+lang.Code+"|>", true)
	}
	for _, c := range []string{"<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", l.noSpeech, "<|notimestamps|>"} {
		add(c, true)
	}
	for i := range 1501 {
		add(fmt.Sprintf("<|%.2f|>", float64(i)*0.02), false)
	}
	first := l.bpeTokens
	for i := range out {
		out[i].ID = first + i
	}
	return out
}

// WhisperTokenizerFiles returns the tokenizer files of a synthetic Whisper
// model: tokenizer.json, vocab.json, merges.txt, added_tokens.json,
// special_tokens_map.json and tokenizer_config.json. The vocabulary has the
// real size in both presets (the model's embedding needs every id), so p
// changes nothing here; it is taken for symmetry with the model writers.
func WhisperTokenizerFiles(multilingual bool, p Preset) (map[string][]byte, error) {
	if p != Tiny && p != Full {
		return nil, fmt.Errorf("whisper tokenizer: unknown preset %q", p)
	}
	key := "whisper.en"
	if multilingual {
		key = "whisper"
	}
	if files, ok := whisperTokenizerMemo.Load(key); ok {
		return cloneFiles(files.(map[string][]byte)), nil
	}
	files, err := buildWhisperTokenizer(whisperLayoutOf(multilingual))
	if err != nil {
		return nil, fmt.Errorf("whisper tokenizer: %w", err)
	}
	whisperTokenizerMemo.Store(key, files)
	return cloneFiles(files), nil
}

var whisperTokenizerMemo sync.Map // "whisper" / "whisper.en" → files

func cloneFiles(files map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(files))
	for k, v := range files {
		out[k] = bytes.Clone(v)
	}
	return out
}

// gpt2Pretokenizer is GPT-2's split, which ByteLevel's use_regex applies.
const gpt2Pretokenizer = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

func buildWhisperTokenizer(l whisperLayout) (map[string][]byte, error) {
	var specials []llmSpecial
	if l.eotInBPE {
		specials = []llmSpecial{{"<|endoftext|>", tokControl}}
	}
	size := l.bpeTokens + len(specials)
	v, err := newBPEVocab(size, gpt2Pretokenizer, hfTokenizerCorpus(), specials)
	if err != nil {
		return nil, err
	}
	tokens := slices.Clone(v.tokens)
	// newBPEVocab puts the byte tokens in byte order; GPT-2 orders them by
	// their spelling (printable bytes first), which is rune order.
	slices.SortFunc(tokens[:256], func(a, b string) int { return int([]rune(a)[0] - []rune(b)[0]) })
	// With eotInBPE, <|endoftext|> is both the vocabulary's last token and
	// the first added token, as in GPT-2's files.
	added := l.addedTokens()
	tokJSON, err := writeHFTokenizer(hfTokenizerFile{
		Version:       "1.0",
		AddedToken:    added,
		PreTokenizer:  hfOrdered{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}},
		PostProcessor: whisperTemplate(added),
		Decoder:       hfOrdered{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}},
		Model: hfOrdered{
			{"type", "BPE"}, {"dropout", nil}, {"unk_token", nil},
			{"continuing_subword_prefix", ""}, {"end_of_word_suffix", ""},
			{"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
			{"vocab", hfVocab(tokens)}, {"merges", v.merges},
		},
	})
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"tokenizer.json": tokJSON}
	if files["vocab.json"], err = sortedIDs(tokens, nil); err != nil {
		return nil, err
	}
	files["merges.txt"] = []byte("#version: 0.2\n" + strings.Join(v.merges, "\n") + "\n")
	// added_tokens.json lists the added tokens past the vocabulary.
	var past []hfAddedToken
	for _, a := range added {
		if a.ID >= len(tokens) {
			past = append(past, a)
		}
	}
	if files["added_tokens.json"], err = sortedIDs(nil, past); err != nil {
		return nil, err
	}
	if files["special_tokens_map.json"], err = whisperSpecialTokensMap(added); err != nil {
		return nil, err
	}
	if files["tokenizer_config.json"], err = whisperTokenizerConfig(added); err != nil {
		return nil, err
	}
	return files, nil
}

// whisperTemplate is the post-processor transformers' WhisperConverter
// writes for the default prefix (no language, no task, no timestamps):
// <|startoftranscript|> <|notimestamps|> $A <|endoftext|>, and for a pair
// the prefix, $A, $B, <|endoftext|>.
func whisperTemplate(added []hfAddedToken) hfOrdered {
	byContent := map[string]hfAddedToken{}
	for _, a := range added {
		byContent[a.Content] = a
	}
	sot, nots, eot := byContent["<|startoftranscript|>"], byContent["<|notimestamps|>"], byContent["<|endoftext|>"]
	special := func(t hfAddedToken, typeID int) any {
		return map[string]any{"SpecialToken": hfOrdered{{"id", t.Content}, {"type_id", typeID}}}
	}
	sequence := func(id string, typeID int) any {
		return map[string]any{"Sequence": hfOrdered{{"id", id}, {"type_id", typeID}}}
	}
	entry := func(t hfAddedToken) hfField {
		return hfField{t.Content, hfOrdered{{"id", t.Content}, {"ids", []int{t.ID}}, {"tokens", []string{t.Content}}}}
	}
	return hfOrdered{
		{"type", "TemplateProcessing"},
		{"single", []any{special(sot, 0), special(nots, 0), sequence("A", 0), special(eot, 0)}},
		{"pair", []any{special(sot, 0), special(nots, 0), sequence("A", 0), sequence("B", 1), special(eot, 1)}},
		{"special_tokens", hfOrdered{entry(eot), entry(sot), entry(nots)}},
	}
}

// sortedIDs writes a token → id object with sorted keys, as transformers
// saves vocab.json and added_tokens.json (json.dumps sort_keys, indent 2).
func sortedIDs(vocab []string, added []hfAddedToken) ([]byte, error) {
	type pair struct {
		tok string
		id  int
	}
	var all []pair
	for id, t := range vocab {
		all = append(all, pair{t, id})
	}
	for _, a := range added {
		all = append(all, pair{a.Content, a.ID})
	}
	// Python sorts str keys by code point; Go compares UTF-8 bytes, which
	// orders code points the same way.
	sort.Slice(all, func(i, j int) bool { return all[i].tok < all[j].tok })
	obj := make(hfOrdered, len(all))
	for i, p := range all {
		obj[i] = hfField{p.tok, p.id}
	}
	return marshalHF(obj)
}

// whisperSpecials are the special added tokens other than the timestamps.
func whisperSpecials(added []hfAddedToken) []hfAddedToken {
	var out []hfAddedToken
	for _, a := range added {
		if a.Special {
			out = append(out, a)
		}
	}
	return out
}

func whisperSpecialTokensMap(added []hfAddedToken) ([]byte, error) {
	var additional []string
	for _, a := range whisperSpecials(added) {
		additional = append(additional, a.Content)
	}
	eot := hfOrdered{{"content", "<|endoftext|>"}, {"lstrip", false}, {"normalized", false}, {"rstrip", false}, {"single_word", false}}
	return marshalHF(hfOrdered{
		{"additional_special_tokens", additional},
		{"bos_token", eot}, {"eos_token", eot}, {"pad_token", "<|endoftext|>"}, {"unk_token", eot},
	})
}

// whisperTokenizerConfig is tokenizer_config.json: WhisperTokenizer with
// <|endoftext|> as bos, eos, pad and unk, no prefix space, the added tokens'
// flags under added_tokens_decoder.
func whisperTokenizerConfig(added []hfAddedToken) ([]byte, error) {
	decoder := hfOrdered{}
	for _, a := range added {
		decoder = append(decoder, hfField{fmt.Sprint(a.ID), hfOrdered{{"content", a.Content}, {"lstrip", false},
			{"normalized", a.Normalized}, {"rstrip", false}, {"single_word", false}, {"special", a.Special}}})
	}
	var additional []string
	for _, a := range whisperSpecials(added) {
		additional = append(additional, a.Content)
	}
	return marshalHF(hfOrdered{
		{"add_prefix_space", false},
		{"added_tokens_decoder", decoder},
		{"additional_special_tokens", additional},
		{"bos_token", "<|endoftext|>"},
		{"clean_up_tokenization_spaces", true},
		{"eos_token", "<|endoftext|>"},
		{"errors", "replace"},
		{"model_max_length", json.Number("1000000000000000019884624838656")},
		{"pad_token", "<|endoftext|>"},
		{"processor_class", "WhisperProcessor"},
		{"return_attention_mask", false},
		{"tokenizer_class", "WhisperTokenizer"},
		{"unk_token", "<|endoftext|>"},
	})
}
