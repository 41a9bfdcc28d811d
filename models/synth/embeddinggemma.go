package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// EmbeddingGemma is Google's EmbeddingGemma-300m as the onnx-community export
// ships it (onnx-community/embeddinggemma-300m-ONNX): a Gemma 3 text encoder
// with bidirectional attention, mean pooling over the attention mask, two
// bias-free dense heads and L2 normalization, all inside one graph whose
// int64 input_ids and attention_mask [batch_size, sequence_length] give
// float last_hidden_state [batch_size, sequence_length, hidden] and
// sentence_embedding [batch_size, hidden].
const EmbeddingGemmaModel = "@cf/google/embeddinggemma-300m"

// EmbeddingGemma file names inside a model directory; each graph keeps its
// weights in "<file>_data" beside it, as the hub repository does.
const (
	EmbeddingGemmaModelFile          = "onnx/model.onnx"
	EmbeddingGemmaQuantizedModelFile = "onnx/model_quantized.onnx"
	EmbeddingGemmaFloat16ModelFile   = "onnx/model_fp16.onnx"
)

// GemmaDims are the dimensions of an EmbeddingGemma model (config.json of
// google/embeddinggemma-300m, plus its sentence-transformers dense heads).
type GemmaDims struct {
	Hidden       int
	Layers       int
	Heads        int
	KVHeads      int
	HeadDim      int
	Intermediate int
	Vocab        int
	MaxPositions int
	// SlidingWindow is config.json's sliding_window: Hugging Face's Gemma 3
	// with bidirectional attention lets a sliding layer's token see the
	// tokens at most SlidingWindow/2 positions away on either side.
	SlidingWindow int
	// SlidingPattern makes every SlidingPattern-th layer (1-based) a
	// full-attention layer, the others sliding (_sliding_window_pattern).
	SlidingPattern int
	// QueryPreAttnScalar scales attention scores by its -1/2 power.
	QueryPreAttnScalar float64
	// RopeTheta is the RoPE base of full-attention layers,
	// RopeLocalTheta that of sliding ones.
	RopeTheta, RopeLocalTheta float64
	// DenseIntermediate is the width between the two dense heads
	// (768→3072→768 in the real model); the second head maps back to Hidden.
	DenseIntermediate int
}

// gemmaRMSNormEps is Gemma 3's rms_norm_eps.
const gemmaRMSNormEps = 1e-6

// Sliding reports whether layer l uses sliding-window attention.
func (d GemmaDims) Sliding(l int) bool { return (l+1)%d.SlidingPattern != 0 }

// WindowRadius is how far apart two tokens of a sliding layer may be and
// still see each other: sliding_window//2, as Hugging Face's config turns the
// window into an exclusive bound of sliding_window//2 + 1 for bidirectional
// attention (and llama.cpp's symmetric window attends |Δ| ≤ n_swa/2).
func (d GemmaDims) WindowRadius() int { return d.SlidingWindow / 2 }

// LayerTypes is config.json's layer_types.
func (d GemmaDims) LayerTypes() []string {
	types := make([]string, d.Layers)
	for l := range types {
		types[l] = "full_attention"
		if d.Sliding(l) {
			types[l] = "sliding_attention"
		}
	}
	return types
}

// embeddingGemmaFull are the real dims (config.json of
// google/embeddinggemma-300m: 308M parameters).
var embeddingGemmaFull = GemmaDims{
	Hidden: 768, Layers: 24, Heads: 3, KVHeads: 1, HeadDim: 256, Intermediate: 1152,
	Vocab: 262144, MaxPositions: 2048, SlidingWindow: 512, SlidingPattern: 6,
	QueryPreAttnScalar: 256, RopeTheta: 1e6, RopeLocalTheta: 1e4, DenseIntermediate: 3072,
}

// embeddingGemmaTiny keeps the real context length and RoPE bases but
// differs where a wrong graph would otherwise pass unnoticed: two groups of
// query heads share each of two KV heads, heads·head_dim (64) is not the
// hidden size (48), query_pre_attn_scalar (24) is not head_dim (16), and a
// window radius of 3 with full layers in between. The vocabulary is the
// tokenizer's.
var embeddingGemmaTiny = GemmaDims{
	Hidden: 48, Layers: 4, Heads: 4, KVHeads: 2, HeadDim: 16, Intermediate: 96,
	MaxPositions: 2048, SlidingWindow: 6, SlidingPattern: 2,
	QueryPreAttnScalar: 24, RopeTheta: 1e6, RopeLocalTheta: 1e4, DenseIntermediate: 128,
}

func init() {
	register(Generator{Model: EmbeddingGemmaModel, Generate: generateEmbeddingGemma})
}

// EmbeddingGemmaDims returns the dims a preset generates; the tiny preset's
// vocabulary is filled in from its tokenizer.
func EmbeddingGemmaDims(p Preset) (GemmaDims, error) {
	d := embeddingGemmaTiny
	if p == Full {
		d = embeddingGemmaFull
	}
	tok, err := GemmaTokenizerJSON(p)
	if err != nil {
		return GemmaDims{}, err
	}
	n, err := tokenizerVocabSize(tok)
	if err != nil {
		return GemmaDims{}, err
	}
	d.Vocab = max(d.Vocab, n)
	return d, nil
}

func generateEmbeddingGemma(ctx context.Context, dir string, o Options) error {
	d, err := EmbeddingGemmaDims(o.Preset)
	if err != nil {
		return err
	}
	w := newGemmaWeights(newWeightSource(o.Seed, EmbeddingGemmaModel), d)
	files := []string{EmbeddingGemmaModelFile, EmbeddingGemmaQuantizedModelFile}
	if o.Float16 {
		files = append(files, EmbeddingGemmaFloat16ModelFile)
	}
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		g := buildEmbeddingGemma(d, w, file == EmbeddingGemmaQuantizedModelFile)
		if file == EmbeddingGemmaFloat16ModelFile {
			g.ToFloat16()
		}
		m := onnxgraph.NewModel(g)
		m.Metadata = map[string]string{MarkerKey: "true", "upstream": "google/embeddinggemma-300m"}
		m.ExternalData = true // model.onnx + model.onnx_data, as the hub has them
		if err := m.Save(filepath.Join(dir, filepath.FromSlash(file))); err != nil {
			return err
		}
	}
	return writeEmbeddingGemmaCompanions(dir, d, o.Preset)
}

// gemmaConfig is config.json in the key order Gemma3TextConfig writes.
type gemmaConfig struct {
	SlidingWindowPattern  int            `json:"_sliding_window_pattern"`
	Architectures         []string       `json:"architectures"`
	AttentionBias         bool           `json:"attention_bias"`
	AttentionDropout      float64        `json:"attention_dropout"`
	AttnLogitSoftcapping  *float64       `json:"attn_logit_softcapping"`
	BOSTokenID            int            `json:"bos_token_id"`
	EOSTokenID            int            `json:"eos_token_id"`
	FinalLogitSoftcapping *float64       `json:"final_logit_softcapping"`
	HeadDim               int            `json:"head_dim"`
	HiddenActivation      string         `json:"hidden_activation"`
	HiddenSize            int            `json:"hidden_size"`
	InitializerRange      float64        `json:"initializer_range"`
	IntermediateSize      int            `json:"intermediate_size"`
	LayerTypes            []string       `json:"layer_types"`
	MaxPositionEmbeddings int            `json:"max_position_embeddings"`
	ModelType             string         `json:"model_type"`
	NumAttentionHeads     int            `json:"num_attention_heads"`
	NumHiddenLayers       int            `json:"num_hidden_layers"`
	NumKeyValueHeads      int            `json:"num_key_value_heads"`
	PadTokenID            int            `json:"pad_token_id"`
	QueryPreAttnScalar    float64        `json:"query_pre_attn_scalar"`
	RMSNormEps            float64        `json:"rms_norm_eps"`
	RopeLocalBaseFreq     float64        `json:"rope_local_base_freq"`
	RopeScaling           *struct{}      `json:"rope_scaling"`
	RopeTheta             float64        `json:"rope_theta"`
	SlidingWindow         int            `json:"sliding_window"`
	TorchDtype            string         `json:"torch_dtype"`
	TransformersVersion   string         `json:"transformers_version"`
	UseBidirectionalAttn  bool           `json:"use_bidirectional_attention"`
	UseCache              bool           `json:"use_cache"`
	VocabSize             int            `json:"vocab_size"`
	TransformersJSConfig  map[string]any `json:"transformers.js_config"`
	Synthetic             bool           `json:"edgeinfer_synthetic"`
}

// writeEmbeddingGemmaCompanions writes the JSON files and tokenizer.json
// the hub repository ships beside onnx/.
func writeEmbeddingGemmaCompanions(dir string, d GemmaDims, p Preset) error {
	cfg := gemmaConfig{
		SlidingWindowPattern: d.SlidingPattern, Architectures: []string{"Gemma3TextModel"},
		BOSTokenID: 2, EOSTokenID: 1, HeadDim: d.HeadDim, HiddenActivation: "gelu_pytorch_tanh",
		HiddenSize: d.Hidden, InitializerRange: 0.02, IntermediateSize: d.Intermediate,
		LayerTypes: d.LayerTypes(), MaxPositionEmbeddings: d.MaxPositions, ModelType: "gemma3_text",
		NumAttentionHeads: d.Heads, NumHiddenLayers: d.Layers, NumKeyValueHeads: d.KVHeads,
		QueryPreAttnScalar: d.QueryPreAttnScalar, RMSNormEps: gemmaRMSNormEps,
		RopeLocalBaseFreq: d.RopeLocalTheta, RopeTheta: d.RopeTheta, SlidingWindow: d.SlidingWindow,
		TorchDtype: "float32", TransformersVersion: "4.57.0.dev0", UseBidirectionalAttn: true,
		UseCache: true, VocabSize: d.Vocab, Synthetic: true,
		TransformersJSConfig: map[string]any{"use_external_data_format": map[string]bool{
			"model.onnx": true, "model_quantized.onnx": true, "model_fp16.onnx": true}},
	}
	files := map[string]any{
		"config.json": cfg,
		"tokenizer_config.json": map[string]any{
			"add_bos_token": true, "add_eos_token": true, "bos_token": "<bos>", "clean_up_tokenization_spaces": false,
			"eos_token": "<eos>", "model_max_length": d.MaxPositions, "pad_token": "<pad>", "padding_side": "right",
			"tokenizer_class": "GemmaTokenizer", "unk_token": "<unk>",
		},
		"special_tokens_map.json": map[string]string{
			"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
		},
	}
	for name, v := range files {
		if err := writeJSONFile(filepath.Join(dir, filepath.FromSlash(name)), v); err != nil {
			return err
		}
	}
	tok, err := GemmaTokenizerJSON(p)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644)
}

// tokenizerVocabSize is one past the largest id of a tokenizer.json's
// vocabulary and added tokens.
func tokenizerVocabSize(raw []byte) (int, error) {
	var tj struct {
		AddedTokens []struct {
			ID int `json:"id"`
		} `json:"added_tokens"`
		Model struct {
			Vocab json.RawMessage `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(raw, &tj); err != nil {
		return 0, fmt.Errorf("tokenizer.json: %w", err)
	}
	n := 0
	for _, t := range tj.AddedTokens {
		n = max(n, t.ID+1)
	}
	// BPE keeps a {piece: id} map, Unigram a [[piece, score], ...] list.
	var byPiece map[string]int
	if err := json.Unmarshal(tj.Model.Vocab, &byPiece); err == nil {
		for _, id := range byPiece {
			n = max(n, id+1)
		}
		return n, nil
	}
	var pieces []json.RawMessage
	if err := json.Unmarshal(tj.Model.Vocab, &pieces); err != nil {
		return 0, fmt.Errorf("tokenizer.json: model.vocab is neither a map nor a list")
	}
	return max(n, len(pieces)), nil
}
