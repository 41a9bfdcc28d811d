package synth

import (
	"fmt"
	"math"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// gemmaWeights are EmbeddingGemma's parameters under Hugging Face's names
// (Gemma3TextModel, then sentence-transformers' dense modules "2" and "3"),
// plus the RoPE tables. Linear weights are stored [in, out], the layout an
// ONNX export's MatMul reads; norm weights are Gemma's zero-centred ones,
// applied as (1 + w).
type gemmaWeights map[string]bertWeight

// newGemmaWeights draws every parameter. Embeddings have std 1/√hidden, so
// after the √hidden scale the residual stream starts near unit variance;
// projections have std 1/√fan_in; norm weights scatter around 0 (gain ≈ 1).
func newGemmaWeights(ws weightSource, d GemmaDims) gemmaWeights {
	w := gemmaWeights{}
	add := func(name string, center, std float64, dims ...int64) {
		w[name] = bertWeight{dims: dims, data: ws.uniform(name, int(onnxgraph.NumElements(dims)), center, std)}
	}
	h, q, kv, hd := int64(d.Hidden), int64(d.Heads*d.HeadDim), int64(d.KVHeads*d.HeadDim), int64(d.HeadDim)
	linear := func(name string, in, out int64) { add(name, 0, 1/math.Sqrt(float64(in)), in, out) }
	norm := func(name string, n int64) { add(name, 0, 0.1, n) }
	add("embed_tokens.weight", 0, 1/math.Sqrt(float64(h)), int64(d.Vocab), h)
	for l := range d.Layers {
		p := fmt.Sprintf("layers.%d.", l)
		norm(p+"input_layernorm.weight", h)
		linear(p+"self_attn.q_proj.weight", h, q)
		linear(p+"self_attn.k_proj.weight", h, kv)
		linear(p+"self_attn.v_proj.weight", h, kv)
		norm(p+"self_attn.q_norm.weight", hd)
		norm(p+"self_attn.k_norm.weight", hd)
		linear(p+"self_attn.o_proj.weight", q, h)
		norm(p+"post_attention_layernorm.weight", h)
		norm(p+"pre_feedforward_layernorm.weight", h)
		linear(p+"mlp.gate_proj.weight", h, int64(d.Intermediate))
		linear(p+"mlp.up_proj.weight", h, int64(d.Intermediate))
		linear(p+"mlp.down_proj.weight", int64(d.Intermediate), h)
		norm(p+"post_feedforward_layernorm.weight", h)
	}
	norm("norm.weight", h)
	linear("2.linear.weight", h, int64(d.DenseIntermediate))
	linear("3.linear.weight", int64(d.DenseIntermediate), h)
	for _, kind := range []string{"local", "global"} {
		cos, sin := ropeTables(d, kind == "local")
		dims := []int64{int64(d.MaxPositions), hd / 2}
		w["rotary_emb_"+kind+".cos"] = bertWeight{dims: dims, data: cos}
		w["rotary_emb_"+kind+".sin"] = bertWeight{dims: dims, data: sin}
	}
	return w
}

// ropeTables are cos and sin of position·θ^(-2i/head_dim) for every
// position and i < head_dim/2, computed in float64 and stored in float32.
func ropeTables(d GemmaDims, local bool) (cos, sin []float32) {
	theta, half := d.RopeTheta, d.HeadDim/2
	if local {
		theta = d.RopeLocalTheta
	}
	cos, sin = make([]float32, d.MaxPositions*half), make([]float32, d.MaxPositions*half)
	for pos := range d.MaxPositions {
		for i := range half {
			angle := float64(pos) * math.Pow(theta, -float64(2*i)/float64(d.HeadDim))
			cos[pos*half+i], sin[pos*half+i] = float32(math.Cos(angle)), float32(math.Sin(angle))
		}
	}
	return cos, sin
}

// gemmaBuilder emits the EmbeddingGemma graph; quantized selects the int8
// form of matrix products and the embedding table (ONNX Runtime's dynamic
// quantization, as for BGE's model_quantized.onnx).
type gemmaBuilder struct {
	g         *onnxgraph.Graph
	d         GemmaDims
	w         gemmaWeights
	quantized bool
	// cos and sin are the RoPE tables cut to the sequence, [S, head_dim/2],
	// by layer kind (sliding layers use the local base).
	cos, sin map[bool]string
	// lowest fills masked attention scores: the float32 minimum, which a
	// half-precision conversion clamps to -65504. Scores are replaced, not
	// offset, so a query that sees no key (a padded position beyond every
	// real token's window) gets a uniform row instead of NaN.
	lowest string
}

func (b *gemmaBuilder) weight(name string) string {
	w, ok := b.w[name]
	if !ok {
		panic("synth: no EmbeddingGemma weight " + name)
	}
	return b.g.Float32(name, w.dims, w.data)
}

// buildEmbeddingGemma is the graph of onnx/model.onnx, or with quantized of
// onnx/model_quantized.onnx.
func buildEmbeddingGemma(d GemmaDims, w gemmaWeights, quantized bool) *onnxgraph.Graph {
	g := onnxgraph.NewGraph("embeddinggemma")
	b := &gemmaBuilder{g: g, d: d, w: w, quantized: quantized, cos: map[bool]string{}, sin: map[bool]string{}}
	batch, seq := onnxgraph.Dynamic("batch_size"), onnxgraph.Dynamic("sequence_length")
	ids := g.Input("input_ids", onnxgraph.Int64, batch, seq)
	mask := g.Input("attention_mask", onnxgraph.Int64, batch, seq)

	x := b.embed(ids)

	// Positions are 0..S-1 whatever the mask says (Hugging Face's default
	// position_ids); RoPE makes scores depend only on distances, so the
	// padding side does not matter.
	seqLen := g.Op("Shape", []string{ids}, onnxgraph.AttrInt("start", 1), onnxgraph.AttrInt("end", 2))
	for _, local := range []bool{true, false} {
		kind := map[bool]string{true: "local", false: "global"}[local]
		b.cos[local] = g.Op("Slice", []string{b.weight("rotary_emb_" + kind + ".cos"), g.Ints(0), seqLen, g.Ints(0)})
		b.sin[local] = g.Op("Slice", []string{b.weight("rotary_emb_" + kind + ".sin"), g.Ints(0), seqLen, g.Ints(0)})
	}

	// Who sees whom: every layer attends in both directions to the real
	// (unpadded) keys; a sliding layer only to those within the window.
	// Full layers: [B,1,1,1,S]; sliding: [B,1,1,S,S] (scores are
	// [B, kv_heads, groups, S, S]).
	keys := g.Op("Cast", []string{mask}, onnxgraph.AttrInt("to", int64(onnxgraph.Bool)))
	keys = g.Op("Unsqueeze", []string{keys, g.Ints(1, 2, 3)})
	positions := g.Op("Range", []string{g.ScalarInt(0), g.Op("Squeeze", []string{seqLen, g.Ints(0)}), g.ScalarInt(1)})
	dist := g.Op("Abs", []string{g.Op("Sub", []string{
		g.Op("Unsqueeze", []string{positions, g.Ints(1)}), g.Op("Unsqueeze", []string{positions, g.Ints(0)})})})
	window := g.Op("LessOrEqual", []string{dist, g.ScalarInt(int64(d.WindowRadius()))}) // [S,S]
	allowed := map[bool]string{false: keys, true: g.Op("And", []string{keys, window})}
	b.lowest = g.Scalar(-math.MaxFloat32)

	for l := range d.Layers {
		x = b.layer(x, allowed[d.Sliding(l)], d.Sliding(l), fmt.Sprintf("layers.%d.", l))
	}
	hidden := b.rmsNorm(x, "norm.weight", "last_hidden_state")

	// Mean pooling over the real tokens (sentence-transformers' Pooling:
	// Σ mask·h / max(Σ mask, 1e-9)), then the dense heads and L2 norm.
	maskF := g.Op("Cast", []string{mask}, onnxgraph.AttrInt("to", int64(onnxgraph.Float)))
	summed := g.Op("MatMul", []string{g.Op("Unsqueeze", []string{maskF, g.Ints(1)}), hidden}) // [B,1,H]
	summed = g.Op("Squeeze", []string{summed, g.Ints(1)})
	count := g.Op("ReduceSum", []string{maskF, g.Ints(1)}, onnxgraph.AttrInt("keepdims", 1))
	pooled := g.Op("Div", []string{summed, g.Op("Max", []string{count, g.Scalar(1e-9)})})
	dense := b.linear(b.linear(pooled, "2.linear.weight"), "3.linear.weight")
	norm := g.Op("Sqrt", []string{g.Op("ReduceSumSquare", []string{dense}, onnxgraph.AttrInts("axes", 1), onnxgraph.AttrInt("keepdims", 1))})
	g.Node("Div", []string{dense, g.Op("Max", []string{norm, g.Scalar(1e-12)})}, []string{"sentence_embedding"})

	g.Output("last_hidden_state", onnxgraph.Float, batch, seq, onnxgraph.Fixed(int64(d.Hidden)))
	g.Output("sentence_embedding", onnxgraph.Float, batch, onnxgraph.Fixed(int64(d.Hidden)))
	return g
}

// layer is one Gemma 3 decoder layer run as an encoder: sandwich norms
// around attention and the gated MLP.
func (b *gemmaBuilder) layer(x, allowed string, sliding bool, p string) string {
	g, d := b.g, b.d
	kv, groups, hd := int64(d.KVHeads), int64(d.Heads/d.KVHeads), int64(d.HeadDim)
	h := b.rmsNorm(x, p+"input_layernorm.weight", "")

	// q: [B,S,heads·hd] → per-head norm → [B,heads,S,hd] → RoPE →
	// [B,kv,groups,S,hd]; query head i uses KV head i/groups, as
	// Hugging Face's repeat_kv does.
	q := g.Op("Reshape", []string{b.linear(h, p+"self_attn.q_proj.weight"), g.Ints(0, 0, int64(d.Heads), hd)})
	q = b.rmsNorm(q, p+"self_attn.q_norm.weight", "")
	q = b.rope(g.Op("Transpose", []string{q}, onnxgraph.AttrInts("perm", 0, 2, 1, 3)), sliding)
	q = g.Op("Reshape", []string{q, g.Ints(0, kv, groups, -1, hd)})
	// k: [B,kv,1,hd,S]; v: [B,kv,1,S,hd].
	k := g.Op("Reshape", []string{b.linear(h, p+"self_attn.k_proj.weight"), g.Ints(0, 0, kv, hd)})
	k = b.rmsNorm(k, p+"self_attn.k_norm.weight", "")
	k = b.rope(g.Op("Transpose", []string{k}, onnxgraph.AttrInts("perm", 0, 2, 1, 3)), sliding)
	k = g.Op("Transpose", []string{g.Op("Unsqueeze", []string{k, g.Ints(2)})}, onnxgraph.AttrInts("perm", 0, 1, 2, 4, 3))
	v := g.Op("Reshape", []string{b.linear(h, p+"self_attn.v_proj.weight"), g.Ints(0, 0, kv, 1, hd)})
	v = g.Op("Transpose", []string{v}, onnxgraph.AttrInts("perm", 0, 2, 3, 1, 4))

	scores := g.Op("Mul", []string{g.Op("MatMul", []string{q, k}), g.Scalar(float32(math.Pow(d.QueryPreAttnScalar, -0.5)))})
	scores = g.Op("Where", []string{allowed, scores, b.lowest})
	probs := g.Op("Softmax", []string{scores}, onnxgraph.AttrInt("axis", -1))
	ctx := g.Op("Reshape", []string{g.Op("MatMul", []string{probs, v}), g.Ints(0, int64(d.Heads), -1, hd)})
	ctx = g.Op("Transpose", []string{ctx}, onnxgraph.AttrInts("perm", 0, 2, 1, 3))
	ctx = g.Op("Reshape", []string{ctx, g.Ints(0, 0, int64(d.Heads)*hd)})
	attn := b.rmsNorm(b.linear(ctx, p+"self_attn.o_proj.weight"), p+"post_attention_layernorm.weight", "")
	x = g.Op("Add", []string{x, attn})

	h = b.rmsNorm(x, p+"pre_feedforward_layernorm.weight", "")
	gate := b.geluTanh(b.linear(h, p+"mlp.gate_proj.weight"))
	ff := b.linear(g.Op("Mul", []string{gate, b.linear(h, p+"mlp.up_proj.weight")}), p+"mlp.down_proj.weight")
	ff = b.rmsNorm(ff, p+"post_feedforward_layernorm.weight", "")
	return g.Op("Add", []string{x, ff})
}

// linear is x·W. Quantized, it is DynamicQuantizeLinear on x (uint8, per
// tensor), MatMulInteger with the int8 weight, and the int32 result rescaled
// by x_scale·w_scale.
func (b *gemmaBuilder) linear(x, name string) string {
	g := b.g
	if !b.quantized {
		return g.Op("MatMul", []string{x, b.weight(name)})
	}
	w := b.w[name]
	q, scale := quantizeSymmetric(w.data)
	xq := g.OpN("DynamicQuantizeLinear", []string{x}, 3) // x_quantized, x_scale, x_zero_point
	acc := g.Op("MatMulInteger", []string{xq[0], g.Int8(name+"_quantized", w.dims, q), xq[2],
		g.Int8(name+"_zero_point", nil, []int8{0})})
	scales := g.Op("Mul", []string{xq[1], g.Float32(name+"_scale", nil, []float32{scale})})
	return g.Op("Mul", []string{g.Op("Cast", []string{acc}, onnxgraph.AttrInt("to", int64(onnxgraph.Float))), scales})
}

// embed looks token rows up, scaled by √hidden (Gemma's scaled
// embeddings). Quantized, rows come from the int8 table and only they are
// dequantized (ONNX Runtime's GatherQuant).
func (b *gemmaBuilder) embed(ids string) string {
	g, name := b.g, "embed_tokens.weight"
	var rows string
	if !b.quantized {
		rows = g.Op("Gather", []string{b.weight(name), ids})
	} else {
		w := b.w[name]
		q, scale := quantizeSymmetric(w.data)
		rows = g.Op("DequantizeLinear", []string{g.Op("Gather", []string{g.Int8(name+"_quantized", w.dims, q), ids}),
			g.Float32(name+"_scale", nil, []float32{scale}), g.Int8(name+"_zero_point", nil, []int8{0})})
	}
	return g.Op("Mul", []string{rows, g.Scalar(float32(math.Sqrt(float64(b.d.Hidden))))})
}

// rmsNorm is Gemma's RMSNorm over the last axis: x/√(mean(x²)+ε)·(1+w).
// out names the result when it is a graph output.
func (b *gemmaBuilder) rmsNorm(x, weight, out string) string {
	g := b.g
	ms := g.Op("ReduceMean", []string{g.Op("Mul", []string{x, x})}, onnxgraph.AttrInts("axes", -1), onnxgraph.AttrInt("keepdims", 1))
	inv := g.Op("Reciprocal", []string{g.Op("Sqrt", []string{g.Op("Add", []string{ms, g.Scalar(gemmaRMSNormEps)})})})
	gain := g.Op("Add", []string{g.Scalar(1), b.weight(weight)})
	if out == "" {
		out = g.Fresh("RMSNorm_out")
	}
	g.Node("Mul", []string{g.Op("Mul", []string{x, inv}), gain}, []string{out})
	return out
}

// rope rotates [.., S, hd] by position, pairing element i with i+hd/2
// (Hugging Face's rotate_half).
func (b *gemmaBuilder) rope(x string, sliding bool) string {
	g, half := b.g, int64(b.d.HeadDim/2)
	cos, sin := b.cos[sliding], b.sin[sliding]
	x1 := g.Op("Slice", []string{x, g.Ints(0), g.Ints(half), g.Ints(-1)})
	x2 := g.Op("Slice", []string{x, g.Ints(half), g.Ints(2 * half), g.Ints(-1)})
	lo := g.Op("Sub", []string{g.Op("Mul", []string{x1, cos}), g.Op("Mul", []string{x2, sin})})
	hi := g.Op("Add", []string{g.Op("Mul", []string{x2, cos}), g.Op("Mul", []string{x1, sin})})
	return g.Op("Concat", []string{lo, hi}, onnxgraph.AttrInt("axis", -1))
}

// geluTanh is gelu_pytorch_tanh, ½x(1 + tanh(√(2/π)(x + 0.044715x³)));
// opset 17 has no Gelu op.
func (b *gemmaBuilder) geluTanh(x string) string {
	g := b.g
	cube := g.Op("Mul", []string{g.Op("Mul", []string{x, x}), x})
	inner := g.Op("Add", []string{x, g.Op("Mul", []string{cube, g.Scalar(0.044715)})})
	t := g.Op("Tanh", []string{g.Op("Mul", []string{inner, g.Scalar(float32(math.Sqrt(2 / math.Pi)))})})
	return g.Op("Mul", []string{g.Op("Mul", []string{x, g.Scalar(0.5)}), g.Op("Add", []string{t, g.Scalar(1)})})
}
