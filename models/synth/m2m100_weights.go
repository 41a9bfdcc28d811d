package synth

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// m2m100Weights hands out the parameters of one synthetic M2M100, named as
// in transformers' M2M100ForConditionalGeneration (encdec_weights.go draws
// them).
type m2m100Weights struct {
	*encDecWeights
	d M2M100Dims
}

func newM2M100Weights(d M2M100Dims, seed uint64) *m2m100Weights {
	return &m2m100Weights{encDecWeights: newEncDecWeights(d.DModel, seed), d: d}
}

// shape is what the shared encoder-decoder builder needs to know of M2M100.
func (w *m2m100Weights) shape() encDecShape {
	d := w.d
	return encDecShape{DModel: d.DModel, Heads: d.Heads, FFN: d.FFN, Vocab: d.Vocab, DecoderLayers: d.DecoderLayers,
		Activation: reluActivation, KeyBias: true}
}

// shared is the token embedding [vocab, d_model], used by the encoder, the
// decoder and (tied) the LM head. The pad row is zero, as nn.Embedding with
// padding_idx initializes it.
func (w *m2m100Weights) shared() *onnxgraph.Tensor {
	d := w.d
	std := float32(1 / math.Sqrt(float64(d.DModel)))
	return w.tensor("model.shared.weight", []int64{int64(d.Vocab), int64(d.DModel)}, func(rng *rand.Rand, data []float32) {
		encDecUniform(std, 0)(rng, data)
		clear(data[m2m100PadID*d.DModel : (m2m100PadID+1)*d.DModel])
	})
}

// m2m100PositionOffset is M2M100SinusoidalPositionalEmbedding's offset; its
// table has max_position_embeddings + 2*offset rows because transformers
// adds the offset twice (in __init__ and in make_weights).
const m2m100PositionOffset = 2

// positions is the fixed sinusoidal table of M2M100SinusoidalPositionalEmbedding
// (tensor2tensor layout: all sines, then all cosines; the pad row zero).
// component is "encoder" or "decoder"; both tables are equal, as in PyTorch.
func (w *m2m100Weights) positions(component string) *onnxgraph.Tensor {
	d := w.d.DModel
	rows := w.d.MaxPositions + 2*m2m100PositionOffset
	name := fmt.Sprintf("model.%s.embed_positions.weights", component)
	return w.tensor(name, []int64{int64(rows), int64(d)}, func(_ *rand.Rand, data []float32) {
		sinusoidTable(data, rows, d)
		clear(data[m2m100PadID*d : (m2m100PadID+1)*d])
	})
}
