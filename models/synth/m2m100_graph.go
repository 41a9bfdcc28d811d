package synth

import (
	"math"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// m2m100Embed is the scaled token embedding plus the sinusoidal position of
// each token, positions counted as create_position_ids_from_input_ids does:
// pad tokens get the (zero) pad row, others pad+1+past+their index among
// the non-pad tokens. pastLen is an int64 scalar.
func m2m100Embed(b *encDecBuilder, w *m2m100Weights, ids, pastLen, component string) string {
	g := b.g
	tokens := b.lookup(w.shared(), ids)
	tokens = g.Op("Mul", []string{tokens, g.Scalar(float32(math.Sqrt(float64(w.d.DModel))))})
	pad := g.ScalarInt(m2m100PadID)
	notPad := g.Op("Cast", []string{g.Op("Not", []string{g.Op("Equal", []string{ids, pad})})},
		onnxgraph.AttrInt("to", int64(onnxgraph.Int64)))
	count := g.Op("CumSum", []string{notPad, g.ScalarInt(1)})
	pos := g.Op("Add", []string{g.Op("Mul", []string{g.Op("Add", []string{count, pastLen}), notPad}), pad})
	// The int8 files keep this table in float32, as the hub's do: each of
	// them is about 3 MB over its int8 weights, the table's float32 size
	// less its int8 size.
	positions := g.Op("Gather", []string{b.param(w.positions(component)), pos})
	return g.Op("Add", []string{tokens, positions})
}

// paddingMask turns an int64 [B, S] attention mask into the additive
// [B, 1, 1, S] mask of transformers' _expand_mask.
func (b *encDecBuilder) paddingMask(mask string) string {
	g := b.g
	m := g.Op("Cast", []string{mask}, onnxgraph.AttrInt("to", int64(onnxgraph.Float)))
	inverted := g.Op("Sub", []string{g.Scalar(1), m})
	additive := g.Op("Mul", []string{inverted, g.Scalar(maskMin)})
	return g.Op("Unsqueeze", []string{additive, g.Ints(1, 2)})
}

// buildM2M100Encoder is encoder_model.onnx (quantized:
// encoder_model_quantized.onnx): input_ids and attention_mask [batch_size,
// encoder_sequence_length] → last_hidden_state.
func buildM2M100Encoder(w *m2m100Weights, quantized bool) *onnxgraph.Model {
	d := w.d
	g := onnxgraph.NewGraph("m2m100_encoder")
	batch, seq := onnxgraph.Dynamic("batch_size"), onnxgraph.Dynamic("encoder_sequence_length")
	ids := g.Input("input_ids", onnxgraph.Int64, batch, seq)
	mask := g.Input("attention_mask", onnxgraph.Int64, batch, seq)

	b := newEncDecBuilder(g, w.encDecWeights, w.shape(), quantized)
	h := m2m100Embed(b, w, ids, g.ScalarInt(0), "encoder")
	additive := b.paddingMask(mask)
	for i := range d.EncoderLayers {
		h = b.encoderLayer(h, additive, i)
	}
	b.layerNorm(h, "model.encoder.layer_norm", "last_hidden_state")
	g.Output("last_hidden_state", onnxgraph.Float, batch, seq, onnxgraph.Fixed(int64(d.DModel)))
	return encDecModel(g)
}
