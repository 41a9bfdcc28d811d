// Package qwen3embed serves Qwen3-Embedding-0.6B
// (@cf/qwen/qwen3-embedding-0.6b) from Qdrant's ONNX export on ONNX
// Runtime: byte-level BPE tokenization ending in <|endoftext|>, queries
// prefixed with their instruction, a token-budget batch scheduler that owns
// the session, last-token pooling and L2 normalization.
//
// The export's graph stops at the decoder's last_hidden_state; pooling is
// edgeinfer's. Batches are padded on the right and each row pools the
// hidden state of its last real token (its <|endoftext|>): the export takes
// no position_ids, so positions count 0..S-1 along the padded row, which
// are a right-padded text's own positions, and the causal mask keeps real
// tokens from seeing the pads after them. A row is then computed as if
// alone. Left padding (the tokenizer_config's padding_side, which the model
// card's transformers code uses) would shift every position of a short row
// and only agree to rounding, because RoPE scores depend on distances.
package qwen3embed

import (
	"context"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
)

// Kind is the catalog backend name.
const Kind = "onnx-qwen3-embedding"

// maxTokens is the longest input, <|endoftext|> included: Workers AI's
// context window for the model and the model card's max_length (the model
// itself has 32,768 positions).
const maxTokens = 8192

// gpuMaxBatchTokens is the token budget on a GPU. On the CPU it is the
// text encoders' 8192 padded positions (engine/batch), one text of the full
// length: attention memory grows with rows·S², and its scores, [1, 16,
// 8192, 8192] in float32, take 4 GiB per layer in the export's unfused
// attention. On a GPU the budget is 4 such texts (16 GiB of scores per
// layer at worst), not the fused encoders' 65,536.
const gpuMaxBatchTokens = 32768

// fallbackVariants are Qdrant's file names, for a model directory the
// catalog does not describe.
var fallbackVariants = map[string][]string{
	"fp32": {"onnx/model.onnx", "onnx/model.onnx_data"},
	"int8": {"onnx/model_quantized.onnx"},
}

// Backend loads Qwen3-Embedding models.
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
