package synth

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// whisperWeights hands out the parameters of one synthetic Whisper, named
// as in transformers' WhisperForConditionalGeneration (encdec_weights.go
// draws them).
type whisperWeights struct {
	*encDecWeights
	d WhisperDims
}

func newWhisperWeights(d WhisperDims, seed uint64) *whisperWeights {
	return &whisperWeights{encDecWeights: newEncDecWeights(d.DModel, seed), d: d}
}

// shape is what the shared encoder-decoder builder needs to know of
// Whisper: GELU feed-forwards and k_proj without a bias.
func (w *whisperWeights) shape() encDecShape {
	d := w.d
	return encDecShape{DModel: d.DModel, Heads: d.Heads, FFN: d.FFN, Vocab: d.Vocab, DecoderLayers: d.DecoderLayers,
		Activation: geluActivation}
}

// embedStd keeps token and position embeddings near unit norm per row:
// Whisper does not scale its embeddings (scale_embedding false), and the
// tied LM head then gives logits of unit-order spread.
func (w *whisperWeights) embedStd() float32 { return float32(1 / math.Sqrt(float64(w.d.DModel))) }

// tokens is model.decoder.embed_tokens.weight [vocab, d_model], which the
// LM head (proj_out) is tied to.
func (w *whisperWeights) tokens() *onnxgraph.Tensor {
	return w.tensor("model.decoder.embed_tokens.weight", []int64{int64(w.d.Vocab), int64(w.d.DModel)}, encDecUniform(w.embedStd(), 0))
}

// decoderPositions is the learned model.decoder.embed_positions.weight
// [448, d_model].
func (w *whisperWeights) decoderPositions() *onnxgraph.Tensor {
	return w.tensor("model.decoder.embed_positions.weight", []int64{WhisperTargetPositions, int64(w.d.DModel)}, encDecUniform(w.embedStd(), 0))
}

// encoderPositions is model.encoder.embed_positions.weight [1500, d_model],
// fixed to Whisper's sinusoids(1500, d_model).
func (w *whisperWeights) encoderPositions() *onnxgraph.Tensor {
	d := w.d.DModel
	return w.tensor("model.encoder.embed_positions.weight", []int64{WhisperSourcePositions, int64(d)}, func(_ *rand.Rand, data []float32) {
		sinusoidTable(data, WhisperSourcePositions, d)
	})
}

// conv returns model.encoder.conv{n}'s weight [d_model, in, 3] and bias.
func (w *whisperWeights) conv(n, in int) (weight, bias *onnxgraph.Tensor) {
	prefix := fmt.Sprintf("model.encoder.conv%d", n)
	std := float32(1 / math.Sqrt(float64(3*in)))
	weight = w.tensor(prefix+".weight", []int64{int64(w.d.DModel), int64(in), 3}, encDecUniform(std, 0))
	bias = w.tensor(prefix+".bias", []int64{int64(w.d.DModel)}, encDecUniform(encDecBiasStd, 0))
	return weight, bias
}
