// Package embeddinggemma serves Google's EmbeddingGemma-300m
// (@cf/google/embeddinggemma-300m) from the onnx-community export on ONNX
// Runtime: Gemma tokenization with <bos> and <eos>, a token-budget batch
// scheduler that owns the session, and the export's own sentence_embedding
// output, whose graph already mean-pools, applies the two dense heads and
// L2-normalizes.
//
// Texts are embedded as given: Workers AI's schema for the model takes only
// text, with no query/document switch, so no task prompt ("task: search
// result | query: ", "title: none | text: ") is added; callers who want the
// model card's prompts put them in the text.
package embeddinggemma

import (
	"context"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
)

// Kind is the catalog backend name.
const Kind = "onnx-embeddinggemma"

// maxTokens is the model's context, <bos> and <eos> included (the model
// card's 2048 tokens, config.json's max_position_embeddings).
const maxTokens = 2048

// fallbackVariants are the onnx-community file names, for a model directory
// the catalog does not describe.
var fallbackVariants = map[string][]string{
	"fp32": {"onnx/model.onnx", "onnx/model.onnx_data"},
	"fp16": {"onnx/model_fp16.onnx", "onnx/model_fp16.onnx_data"},
	"int8": {"onnx/model_quantized.onnx", "onnx/model_quantized.onnx_data"},
}

// Backend loads EmbeddingGemma models.
type Backend struct{}

var _ engine.Backend = Backend{}

// Check implements engine.Backend.
func (Backend) Check(ctx context.Context, spec engine.ModelSpec) (engine.Installation, error) {
	return onnxdir.CheckText(ctx, spec, fallbackVariants)
}

// Load implements engine.Backend.
func (Backend) Load(_ context.Context, spec engine.ModelSpec) (engine.Model, error) {
	tok, sess, cfg, tokCfg, err := onnxdir.OpenText(spec, fallbackVariants, loadTokenizer)
	if err != nil {
		return nil, err
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
	_, err := m.runBatch(calibrate.Rows(rows, cols, m.pad))
	return err
}
