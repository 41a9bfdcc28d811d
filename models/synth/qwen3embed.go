package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// Qwen3EmbeddingModel is Qwen/Qwen3-Embedding-0.6B as Qdrant exports it
// for FastEmbed (Qdrant/Qwen3-Embedding-0.6B-onnx): the Qwen3 decoder
// (Qwen3Model, no LM head) whose int64 input_ids and attention_mask
// [batch_size, sequence_length] give float last_hidden_state [batch_size,
// sequence_length, hidden]. Pooling (the last real token) and the L2 norm
// are not in the graph; the model card says so and FastEmbed applies them.
const Qwen3EmbeddingModel = "@cf/qwen/qwen3-embedding-0.6b"

// Qwen3-Embedding file names inside a model directory: fp32 keeps its
// weights in "model.onnx_data" beside the graph, the int8 file (8-bit
// MatMulNBits, 1.12 GB on the hub) holds them inline.
const (
	Qwen3EmbeddingModelFile          = "onnx/model.onnx"
	Qwen3EmbeddingQuantizedModelFile = "onnx/model_quantized.onnx"
)

// Qwen3Dims are the dimensions of a Qwen3 decoder (config.json of
// Qwen/Qwen3-Embedding-0.6B).
type Qwen3Dims struct {
	Hidden       int
	Layers       int
	Heads        int
	KVHeads      int
	HeadDim      int
	Intermediate int
	Vocab        int
	MaxPositions int
	RopeTheta    float64
	// QuantBlock is the MatMulNBits block size of the int8 file. 32 is
	// onnxruntime's quantizer default and the one whose scales make the
	// hub file's 1,120,604,114 bytes: 440.4 M int8 weights + 55.1 MB of
	// float32 block scales + the 621 MB float32 embedding table, which
	// stays unquantized (a Gather, not a MatMul).
	QuantBlock int
}

// qwen3RMSNormEps is Qwen3's rms_norm_eps.
const qwen3RMSNormEps = 1e-6

// qwen3EmbeddingFull are the real dims (595.8 M parameters).
var qwen3EmbeddingFull = Qwen3Dims{
	Hidden: 1024, Layers: 28, Heads: 16, KVHeads: 8, HeadDim: 128, Intermediate: 3072,
	Vocab: 151669, MaxPositions: 32768, RopeTheta: 1e6, QuantBlock: 32,
}

// qwen3EmbeddingTiny keeps the context length and RoPE base but differs
// where a wrong graph would pass unnoticed: two query heads share each KV
// head, heads·head_dim (96) is not the hidden size (64), and the
// intermediate size (80) is not a multiple of the quantization block, so
// down_proj's last block is padded. The vocabulary is the tokenizer's.
var qwen3EmbeddingTiny = Qwen3Dims{
	Hidden: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 24, Intermediate: 80,
	MaxPositions: 32768, RopeTheta: 1e6, QuantBlock: 32,
}

func init() {
	register(Generator{Model: Qwen3EmbeddingModel, Generate: generateQwen3Embedding})
}

// Qwen3EmbeddingDims returns the dims a preset generates; the tiny preset's
// vocabulary is filled in from its tokenizer.
func Qwen3EmbeddingDims(p Preset) (Qwen3Dims, error) {
	d := qwen3EmbeddingTiny
	if p == Full {
		d = qwen3EmbeddingFull
	}
	tok, err := Qwen3TokenizerJSON(p)
	if err != nil {
		return Qwen3Dims{}, err
	}
	n, err := tokenizerVocabSize(tok)
	if err != nil {
		return Qwen3Dims{}, err
	}
	d.Vocab = max(d.Vocab, n)
	return d, nil
}

func generateQwen3Embedding(ctx context.Context, dir string, o Options) error {
	d, err := Qwen3EmbeddingDims(o.Preset)
	if err != nil {
		return err
	}
	w := newQwen3Weights(newWeightSource(o.Seed, Qwen3EmbeddingModel), d)
	for _, file := range []string{Qwen3EmbeddingModelFile, Qwen3EmbeddingQuantizedModelFile} {
		if err := ctx.Err(); err != nil {
			return err
		}
		quantized := file == Qwen3EmbeddingQuantizedModelFile
		m := onnxgraph.NewModel(buildQwen3Embedding(d, w, quantized))
		m.Metadata = map[string]string{MarkerKey: "true", "upstream": "Qwen/Qwen3-Embedding-0.6B"}
		if quantized {
			m.Opsets[onnxgraph.MicrosoftDomain] = 1
		} else {
			m.ExternalData = true // model.onnx + model.onnx_data, as the hub has them
		}
		if err := m.Save(filepath.Join(dir, filepath.FromSlash(file))); err != nil {
			return err
		}
	}
	return writeQwen3EmbeddingCompanions(dir, d, o.Preset)
}

// qwen3Config is config.json in the key order Qwen3Config writes.
type qwen3Config struct {
	Architectures         []string  `json:"architectures"`
	AttentionBias         bool      `json:"attention_bias"`
	AttentionDropout      float64   `json:"attention_dropout"`
	BOSTokenID            int       `json:"bos_token_id"`
	EOSTokenID            int       `json:"eos_token_id"`
	HeadDim               int       `json:"head_dim"`
	HiddenAct             string    `json:"hidden_act"`
	HiddenSize            int       `json:"hidden_size"`
	InitializerRange      float64   `json:"initializer_range"`
	IntermediateSize      int       `json:"intermediate_size"`
	MaxPositionEmbeddings int       `json:"max_position_embeddings"`
	MaxWindowLayers       int       `json:"max_window_layers"`
	ModelType             string    `json:"model_type"`
	NumAttentionHeads     int       `json:"num_attention_heads"`
	NumHiddenLayers       int       `json:"num_hidden_layers"`
	NumKeyValueHeads      int       `json:"num_key_value_heads"`
	RMSNormEps            float64   `json:"rms_norm_eps"`
	RopeScaling           *struct{} `json:"rope_scaling"`
	RopeTheta             float64   `json:"rope_theta"`
	SlidingWindow         *int      `json:"sliding_window"`
	TieWordEmbeddings     bool      `json:"tie_word_embeddings"`
	TorchDtype            string    `json:"torch_dtype"`
	TransformersVersion   string    `json:"transformers_version"`
	UseCache              bool      `json:"use_cache"`
	UseSlidingWindow      bool      `json:"use_sliding_window"`
	VocabSize             int       `json:"vocab_size"`
	Synthetic             bool      `json:"edgeinfer_synthetic"`
}

// writeQwen3EmbeddingCompanions writes the JSON files and tokenizer.json
// beside onnx/. config.json is Qwen/Qwen3-Embedding-0.6B's; the
// tokenizer files are Qwen3's, whose tokenizer.json appends <|endoftext|>
// to every text (the fix Qwen made after release: the embedding is the
// hidden state of that token).
func writeQwen3EmbeddingCompanions(dir string, d Qwen3Dims, p Preset) error {
	endOfText, err := qwen3EndOfTextID(p)
	if err != nil {
		return err
	}
	cfg := qwen3Config{
		Architectures: []string{"Qwen3ForCausalLM"}, BOSTokenID: endOfText, EOSTokenID: endOfText,
		HeadDim: d.HeadDim, HiddenAct: "silu", HiddenSize: d.Hidden, InitializerRange: 0.02,
		IntermediateSize: d.Intermediate, MaxPositionEmbeddings: d.MaxPositions, MaxWindowLayers: d.Layers,
		ModelType: "qwen3", NumAttentionHeads: d.Heads, NumHiddenLayers: d.Layers, NumKeyValueHeads: d.KVHeads,
		RMSNormEps: qwen3RMSNormEps, RopeTheta: d.RopeTheta, TieWordEmbeddings: true, TorchDtype: "float32",
		TransformersVersion: "4.51.3", UseCache: true, VocabSize: d.Vocab, Synthetic: true,
	}
	specials := []string{"<|im_start|>", "<|im_end|>"}
	files := map[string]any{
		"config.json": cfg,
		"tokenizer_config.json": map[string]any{
			"add_bos_token": false, "add_prefix_space": false, "additional_special_tokens": specials,
			"bos_token": nil, "clean_up_tokenization_spaces": false, "eos_token": "<|im_end|>", "errors": "replace",
			"model_max_length": 131072, "pad_token": "<|endoftext|>", "padding_side": "left",
			"split_special_tokens": false, "tokenizer_class": "Qwen2Tokenizer", "unk_token": nil,
		},
		"special_tokens_map.json": map[string]any{
			"additional_special_tokens": specials, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
		},
	}
	for name, v := range files {
		if err := writeJSONFile(filepath.Join(dir, filepath.FromSlash(name)), v); err != nil {
			return err
		}
	}
	tok, err := Qwen3TokenizerJSON(p)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644)
}

// qwen3EndOfTextID is <|endoftext|>'s id in a preset's tokenizer.json.
func qwen3EndOfTextID(p Preset) (int, error) {
	raw, err := Qwen3TokenizerJSON(p)
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
