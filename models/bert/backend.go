// Package bert serves BERT-family encoders (BERT, DistilBERT, XLM-RoBERTa)
// on ONNX Runtime: text embeddings (BGE, bge-m3: mean or CLS pooling and L2
// normalization), text classification (DistilBERT SST-2: softmax over the
// config's labels) and cross-encoder reranking (bge-reranker: sigmoid of
// one logit per query-context pair). A token-budget batch scheduler owns the
// session; the head follows the model file's output (last_hidden_state or
// logits) and config.json.
package bert

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// Kind is the catalog backend name.
const Kind = "onnx-bert"

// defaultMaxTokens is the token limit of a model whose config gives none.
const defaultMaxTokens = 512

// fallbackVariants are the file names of the optimum/Xenova layout.
var fallbackVariants = map[string][]string{
	"fp32": {"onnx/model.onnx"}, "int8": {"onnx/model_quantized.onnx"}, "fp16": {"onnx/model_fp16.onnx"},
}

// Backend loads BERT-family encoders.
type Backend struct{}

// Backend is registered as an engine.Backend; the build fails if a method
// goes missing.
var _ engine.Backend = Backend{}

func files(spec engine.ModelSpec) ([]string, error) {
	weights, err := onnxdir.VariantFiles(spec, fallbackVariants)
	if err != nil {
		return nil, err
	}
	return append([]string{"config.json", "tokenizer.json"}, weights...), nil
}

// modelFile is the graph among a variant's files (the others are its
// external data, as in bge-m3's model.onnx + model.onnx_data).
func modelFile(weights []string) (string, error) {
	for _, f := range weights {
		if strings.HasSuffix(f, ".onnx") {
			return f, nil
		}
	}
	return "", fmt.Errorf("no .onnx file among %v", weights)
}

// Check implements engine.Backend.
func (Backend) Check(_ context.Context, spec engine.ModelSpec) (engine.Installation, error) {
	fs, err := files(spec)
	if err != nil {
		return engine.Installation{}, err
	}
	return onnxdir.Inspect(spec, fs)
}

// modelConfig is what edgeinfer reads from config.json and tokenizer_config.json.
type modelConfig struct {
	ModelType             string `json:"model_type"`
	HiddenSize            int    `json:"hidden_size"`
	Dim                   int    `json:"dim"` // DistilBERT's name for hidden_size
	MaxPositionEmbeddings int    `json:"max_position_embeddings"`
	PadTokenID            *int64 `json:"pad_token_id"`
	// ID2Label names a classifier's outputs: {"0": "NEGATIVE", ...}.
	ID2Label       map[string]string `json:"id2label"`
	ModelMaxLength int               `json:"model_max_length"`
}

// hidden is the encoder's width.
func (c modelConfig) hidden() int { return max(c.HiddenSize, c.Dim) }

// padID is the id padded positions get: pad_token_id (1 for XLM-R), else 0.
func (c modelConfig) padID() int64 {
	if c.PadTokenID != nil {
		return *c.PadTokenID
	}
	return 0
}

// maxTokens is the longest input the model takes, special tokens included:
// the smaller of its position table and the tokenizer's model_max_length.
// RoBERTa-style models number positions from pad_token_id+1, so their table
// holds that many rows fewer (514 rows, 512 tokens).
func maxTokens(cfg, tokCfg modelConfig) int {
	positions := cfg.MaxPositionEmbeddings
	if positions > 0 && (cfg.ModelType == "xlm-roberta" || cfg.ModelType == "roberta") {
		positions -= int(cfg.padID()) + 1
	}
	limit := 0
	for _, l := range []int{positions, tokCfg.ModelMaxLength} {
		if l > 0 && (limit == 0 || l < limit) {
			limit = l
		}
	}
	if limit == 0 {
		return defaultMaxTokens
	}
	return limit
}

// Load implements engine.Backend.
func (Backend) Load(_ context.Context, spec engine.ModelSpec) (engine.Model, error) {
	fs, err := files(spec)
	if err != nil {
		return nil, err
	}
	file, err := modelFile(fs[2:])
	if err != nil {
		return nil, onnxdir.LoadError(spec, err)
	}
	dir := spec.Dir()
	var cfg, tokCfg modelConfig
	if err := onnxdir.ReadJSON(dir, "config.json", &cfg); err != nil {
		return nil, onnxdir.LoadError(spec, err)
	}
	_ = onnxdir.ReadJSON(dir, "tokenizer_config.json", &tokCfg) // optional
	tok, err := loadTokenizer(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, onnxdir.LoadError(spec, err)
	}
	sess, err := ort.Open(filepath.Join(dir, filepath.FromSlash(file)), onnxdir.SessionOptions(spec.Config))
	if err != nil {
		return nil, onnxdir.LoadError(spec, err)
	}
	m, err := newModel(spec, sess, tok, cfg, tokCfg)
	if err != nil {
		sess.Close()
		return nil, onnxdir.LoadError(spec, err)
	}
	return m, nil
}

// probeBatch runs one batch of rows sequences of cols padding tokens, the
// model's real geometry, for calibrate.TextConfig.
func (m *Model) probeBatch(rows, cols int) error {
	ids := make([]int64, cols)
	for i := range ids {
		ids[i] = m.padID
	}
	seqs := make([]sequence, rows)
	for i := range seqs {
		seqs[i] = sequence{ids: ids}
	}
	_, err := m.runBatch(seqs)
	return err
}
