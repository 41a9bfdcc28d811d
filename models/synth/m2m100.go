package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// M2M100ModelID is the Workers AI translation model the synthetic M2M100
// stands in for.
const M2M100ModelID = "@cf/meta/m2m100-1.2b"

// M2M100Dims are the architecture dimensions of a generated M2M100.
type M2M100Dims struct {
	DModel        int
	Heads         int
	EncoderLayers int
	DecoderLayers int
	FFN           int
	MaxPositions  int
	// DictSize is len(vocab.json); 0 means whatever the embedded corpus
	// yields (the tiny preset).
	DictSize int
	// Vocab is the embedding size: len(vocab.json) + 100 language tokens
	// + 8 made-up words. Filled in once the vocabulary is built.
	Vocab int
}

// HeadDim is the per-head width of queries, keys and values.
func (d M2M100Dims) HeadDim() int { return d.DModel / d.Heads }

// M2M100PresetDims returns the dimensions for o: tiny is d_model 32, 4
// heads, 2+2 layers over the corpus vocabulary; full is facebook/m2m100_418M
// (o.M2M100Size "" or "418M") or facebook/m2m100_1.2B ("1.2B").
func M2M100PresetDims(o Options) (M2M100Dims, error) {
	if o.Preset != Full {
		return M2M100Dims{DModel: 32, Heads: 4, EncoderLayers: 2, DecoderLayers: 2, FFN: 128, MaxPositions: 1024}, nil
	}
	d := M2M100Dims{DModel: 1024, Heads: 16, EncoderLayers: 12, DecoderLayers: 12, FFN: 4096, MaxPositions: 1024, DictSize: m2m100FullDictSize}
	switch o.M2M100Size {
	case "", "418M":
	case "1.2B":
		d.EncoderLayers, d.DecoderLayers, d.FFN = 24, 24, 8192
	default:
		return M2M100Dims{}, fmt.Errorf("m2m100: unknown size %q (want 418M or 1.2B)", o.M2M100Size)
	}
	return d, nil
}

// m2m100LanguageCodes is transformers' FAIRSEQ_LANGUAGE_CODES["m2m100"]; a
// code's token __xx__ has id len(vocab.json) + its index.
var m2m100LanguageCodes = []string{
	"af", "am", "ar", "ast", "az", "ba", "be", "bg", "bn", "br", "bs", "ca", "ceb", "cs", "cy", "da", "de", "el", "en", "es",
	"et", "fa", "ff", "fi", "fr", "fy", "ga", "gd", "gl", "gu", "ha", "he", "hi", "hr", "ht", "hu", "hy", "id", "ig", "ilo",
	"is", "it", "ja", "jv", "ka", "kk", "km", "kn", "ko", "lb", "lg", "ln", "lo", "lt", "lv", "mg", "mk", "ml", "mn", "mr",
	"ms", "my", "ne", "nl", "no", "ns", "oc", "or", "pa", "pl", "ps", "pt", "ro", "ru", "sd", "si", "sk", "sl", "so", "sq",
	"sr", "ss", "su", "sv", "sw", "ta", "th", "tl", "tn", "tr", "uk", "ur", "uz", "vi", "wo", "xh", "yi", "yo", "zh", "zu",
}

// m2m100MadeUpWords is M2M100Tokenizer's num_madeup_words.
const m2m100MadeUpWords = 8

func init() {
	register(Generator{Model: M2M100ModelID, Generate: generateM2M100})
}

func m2m100Seed(seed uint64) uint64 {
	if seed == 0 {
		return 0x2a2a100 // default seed; any fixed value keeps runs reproducible
	}
	return seed
}

// M2M100 file names inside a model directory: the encoder and the merged
// decoder of each variant (the catalog's variants list these).
const (
	M2M100EncoderFile          = "onnx/encoder_model.onnx"
	M2M100DecoderFile          = "onnx/decoder_model_merged.onnx"
	M2M100QuantizedEncoderFile = "onnx/encoder_model_quantized.onnx"
	M2M100QuantizedDecoderFile = "onnx/decoder_model_merged_quantized.onnx"
)

// generateM2M100 writes the layout of an optimum export quantized by
// transformers.js's script (Xenova's repos): tokenizer and config files at
// the top, under onnx/ the encoder and the three decoder files in fp32 and
// in int8 (*_quantized.onnx).
func generateM2M100(ctx context.Context, dir string, o Options) error {
	d, err := M2M100PresetDims(o)
	if err != nil {
		return err
	}
	vocab, err := newM2M100Vocab(d.DictSize)
	if err != nil {
		return err
	}
	d.Vocab = len(vocab.dict) + len(m2m100LanguageCodes) + m2m100MadeUpWords
	if err := os.MkdirAll(filepath.Join(dir, "onnx"), 0o755); err != nil {
		return err
	}
	if err := vocab.writeTokenizerModel(dir); err != nil {
		return err
	}
	if err := writeM2M100Configs(dir, d, o); err != nil {
		return err
	}

	// Encoder and decoder weights are generated separately, so a full-size
	// run holds one of them in memory at a time; each fp32 file and its int8
	// twin share one set, and the three decoder files of a precision share
	// its quantized form.
	seed := m2m100Seed(o.Seed)
	save := func(m *onnxgraph.Model, file string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return m.Save(filepath.Join(dir, filepath.FromSlash(file)))
	}
	ew := newM2M100Weights(d, seed)
	for _, quantized := range []bool{false, true} {
		if err := save(buildM2M100Encoder(ew, quantized), encDecFile("encoder_model", quantized)); err != nil {
			return err
		}
	}
	w := newM2M100Weights(d, seed)
	for _, quantized := range []bool{false, true} {
		for _, f := range []struct {
			name string
			kind m2m100DecoderKind
		}{
			{"decoder_model", m2m100DecoderFirst},
			{"decoder_with_past_model", m2m100DecoderPast},
			{"decoder_model_merged", m2m100DecoderMerged},
		} {
			if err := save(buildM2M100Decoder(w, f.kind, quantized), encDecFile(f.name, quantized)); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeM2M100Configs writes config.json, generation_config.json,
// tokenizer_config.json and special_tokens_map.json with the keys
// transformers writes for M2M100.
func writeM2M100Configs(dir string, d M2M100Dims, o Options) error {
	langTokens := make([]string, len(m2m100LanguageCodes))
	for i, c := range m2m100LanguageCodes {
		langTokens[i] = "__" + c + "__"
	}
	config := map[string]any{
		MarkerKey:                 true,
		"edgeinfer_preset":        o.Preset,
		"edgeinfer_seed":          m2m100Seed(o.Seed),
		"activation_dropout":      0.0,
		"activation_function":     "relu",
		"architectures":           []string{"M2M100ForConditionalGeneration"},
		"attention_dropout":       0.1,
		"bos_token_id":            m2m100BOSID,
		"d_model":                 d.DModel,
		"decoder_attention_heads": d.Heads,
		"decoder_ffn_dim":         d.FFN,
		"decoder_layerdrop":       0.05,
		"decoder_layers":          d.DecoderLayers,
		"decoder_start_token_id":  m2m100EOSID,
		"dropout":                 0.1,
		"early_stopping":          true,
		"encoder_attention_heads": d.Heads,
		"encoder_ffn_dim":         d.FFN,
		"encoder_layerdrop":       0.05,
		"encoder_layers":          d.EncoderLayers,
		"eos_token_id":            m2m100EOSID,
		"init_std":                0.02,
		"is_encoder_decoder":      true,
		"max_length":              200,
		"max_position_embeddings": d.MaxPositions,
		"model_type":              "m2m_100",
		"num_beams":               5,
		"num_hidden_layers":       d.EncoderLayers,
		"pad_token_id":            m2m100PadID,
		"scale_embedding":         true,
		"torch_dtype":             "float32",
		"transformers_version":    m2m100TransformersVersion,
		"use_cache":               true,
		"vocab_size":              d.Vocab,
	}
	generation := map[string]any{
		"_from_model_config":     true,
		"bos_token_id":           m2m100BOSID,
		"decoder_start_token_id": m2m100EOSID,
		"early_stopping":         true,
		"eos_token_id":           m2m100EOSID,
		"max_length":             200,
		"num_beams":              5,
		"pad_token_id":           m2m100PadID,
		"transformers_version":   m2m100TransformersVersion,
	}
	special := map[string]any{
		"additional_special_tokens": langTokens,
		"bos_token":                 m2m100BOS,
		"eos_token":                 m2m100EOS,
		"pad_token":                 m2m100Pad,
		"sep_token":                 m2m100EOS,
		"unk_token":                 m2m100Unk,
	}
	tokenizer := map[string]any{
		"additional_special_tokens":    langTokens,
		"bos_token":                    m2m100BOS,
		"clean_up_tokenization_spaces": true,
		"eos_token":                    m2m100EOS,
		"language_codes":               "m2m100",
		"model_max_length":             d.MaxPositions,
		"num_madeup_words":             m2m100MadeUpWords,
		"pad_token":                    m2m100Pad,
		"sep_token":                    m2m100EOS,
		"sp_model_kwargs":              map[string]any{},
		"src_lang":                     nil,
		"tgt_lang":                     nil,
		"tokenizer_class":              "M2M100Tokenizer",
		"unk_token":                    m2m100Unk,
	}
	for name, v := range map[string]any{
		"config.json":             config,
		"generation_config.json":  generation,
		"special_tokens_map.json": special,
		"tokenizer_config.json":   tokenizer,
	} {
		if err := writeM2M100JSON(filepath.Join(dir, name), v); err != nil {
			return err
		}
	}
	return nil
}

// m2m100TransformersVersion is the transformers release whose file layout
// these configs follow.
const m2m100TransformersVersion = "4.36.2"

// writeM2M100JSON writes v indented with sorted keys, as transformers saves
// configs, and without Go's HTML escaping (which would turn "<s>" into
// "\u003cs\u003e").
func writeM2M100JSON(path string, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
