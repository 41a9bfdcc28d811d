package synth

import (
	"math"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// The int8 files of the encoder-decoders (encoder_model_quantized.onnx and
// the decoders' *_quantized.onnx) take the form ONNX Runtime's dynamic
// quantization (ONNXQuantizer in IntegerOps mode) gives an optimum export
// with the settings transformers.js's conversion script uses: int8
// weights, per_channel and reduce_range on, subgraphs included
// (EnableSubgraph), so the merged decoder's branches are quantized too and
// their weights stay once in the main graph.
//
//   - A MatMul with a constant weight becomes DynamicQuantizeLinear on its
//     input (uint8, one scale for the whole tensor, computed at run time),
//     MatMulInteger with the int8 weight, a Cast of the int32 sum to float
//     and a Mul by input scale × weight scale; the bias Add stays as it was.
//     Weights are quantized per output column, symmetric (zero point 0).
//   - The token embedding's Gather reads the int8 table and dequantizes the
//     rows it picked (GatherQuant), with one scale for the table. The
//     position tables (M2M100's sinusoids, Whisper's) stay float32, as in
//     the hub's files, and so do Whisper's encoder convolutions.
//   - The LM head multiplies by the transposed int8 token embedding. The
//     hub's M2M100 decoder_model_merged_quantized.onnx (344 MB for 201M
//     layer weights and the 128,112 × 1,024 table) holds one int8 copy of
//     that table; how its LM head reaches it is not seen. Here a Transpose
//     in the main graph reads it, which ONNX Runtime folds into a constant
//     once at load.

// int8Weight is one weight as the quantizer stores it: int8 values, float
// scales and int8 zero points (all 0), one each per tensor or per output
// column.
type int8Weight struct {
	values, scale, zeroPoint *onnxgraph.Tensor
}

// quantized returns t in int8: per output column of a [in, out] weight
// when perColumn, else with one scale, in the 7-bit range of reduce_range
// (weightQuantMax). A tensor is quantized once however many graphs use it.
func (w *encDecWeights) quantized(t *onnxgraph.Tensor, perColumn bool) int8Weight {
	if q, ok := w.int8[t.Name]; ok {
		return q
	}
	data := w.values[t.Name]
	cols := 1
	if perColumn {
		cols = int(t.Dims[len(t.Dims)-1])
	}
	maxAbs := make([]float64, cols)
	for i, v := range data {
		maxAbs[i%cols] = max(maxAbs[i%cols], math.Abs(float64(v)))
	}
	scales := make([]float32, cols)
	for j, m := range maxAbs {
		scales[j] = float32(m / weightQuantMax)
		if scales[j] == 0 {
			scales[j] = 1 // an all-zero column; any scale reproduces it
		}
	}
	values := make([]int8, len(data))
	for i, v := range data {
		r := math.Round(float64(v) / float64(scales[i%cols]))
		values[i] = int8(max(-weightQuantMax, min(weightQuantMax, r)))
	}
	var dims []int64 // a scalar scale and zero point per tensor
	if perColumn {
		dims = []int64{int64(cols)}
	}
	q := int8Weight{
		values:    onnxgraph.Int8Tensor(t.Name+"_quantized", t.Dims, values),
		scale:     onnxgraph.Float32Tensor(t.Name+"_scale", dims, scales),
		zeroPoint: onnxgraph.Int8Tensor(t.Name+"_zero_point", dims, make([]int8, cols)),
	}
	w.int8[t.Name] = q
	return q
}

// integerMatMul is x·W for an int8 W whose values are the graph value
// weight (the initializer, or a transposed view of one); out names the
// result when it is a graph output.
func (b *encDecBuilder) integerMatMul(x, weight string, q int8Weight, out string) string {
	g := b.g
	xq := g.OpN("DynamicQuantizeLinear", []string{x}, 3) // x_quantized, x_scale, x_zero_point
	sum := g.Op("MatMulInteger", []string{xq[0], weight, xq[2], b.param(q.zeroPoint)})
	scales := g.Op("Mul", []string{xq[1], b.param(q.scale)})
	return b.named(out, "Mul", []string{g.Op("Cast", []string{sum}, onnxgraph.AttrInt("to", int64(onnxgraph.Float))), scales})
}

// lookup gathers rows of an embedding table; in the int8 files from the
// int8 table, dequantizing only the rows picked. The table is quantized in
// the weights' 7-bit range (reduce_range) because the LM head's
// MatMulInteger reads the same int8 shared embedding.
func (b *encDecBuilder) lookup(table *onnxgraph.Tensor, ids string) string {
	if !b.quantized {
		return b.g.Op("Gather", []string{b.param(table), ids})
	}
	q := b.w.quantized(table, false)
	rows := b.g.Op("Gather", []string{b.param(q.values), ids})
	return b.g.Op("DequantizeLinear", []string{rows, b.param(q.scale), b.param(q.zeroPoint)})
}

// quantizedLMHead is the int8 LM head: h · tableᵀ with the int8 token
// embedding, transposed once in the main graph.
func (b *encDecBuilder) quantizedLMHead(h string, table *onnxgraph.Tensor, out string) string {
	q := b.w.quantized(table, false)
	transposed := q.values.Name + "_transposed"
	if !b.added[transposed] {
		b.added[transposed] = true
		b.top.Node("Transpose", []string{b.param(q.values)}, []string{transposed}, onnxgraph.AttrInts("perm", 1, 0))
	}
	return b.integerMatMul(h, transposed, q, out)
}
