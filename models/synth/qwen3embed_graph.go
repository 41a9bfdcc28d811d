package synth

import (
	"fmt"
	"math"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// qwen3Weights are Qwen3-Embedding's parameters under Hugging Face's names
// (Qwen3Model) plus RoPE's inverse frequencies. Linear weights are stored
// [in, out], the layout an ONNX export's MatMul reads.
type qwen3Weights map[string]bertWeight

// newQwen3Weights draws every parameter. Projections have std 1/√fan_in;
// RMSNorm gains scatter around 1 (Qwen3 multiplies by w, not 1+w). The
// per-head q/k norms keep attention scores near unit variance, so softmax
// rows are neither uniform nor one-hot.
func newQwen3Weights(ws weightSource, d Qwen3Dims) qwen3Weights {
	w := qwen3Weights{}
	add := func(name string, center, std float64, dims ...int64) {
		w[name] = bertWeight{dims: dims, data: ws.uniform(name, int(onnxgraph.NumElements(dims)), center, std)}
	}
	h, q, kv, hd := int64(d.Hidden), int64(d.Heads*d.HeadDim), int64(d.KVHeads*d.HeadDim), int64(d.HeadDim)
	linear := func(name string, in, out int64) { add(name, 0, 1/math.Sqrt(float64(in)), in, out) }
	norm := func(name string, n int64) { add(name, 1, 0.1, n) }
	add("embed_tokens.weight", 0, 0.5, int64(d.Vocab), h)
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
		linear(p+"mlp.gate_proj.weight", h, int64(d.Intermediate))
		linear(p+"mlp.up_proj.weight", h, int64(d.Intermediate))
		linear(p+"mlp.down_proj.weight", int64(d.Intermediate), h)
	}
	norm("norm.weight", h)
	inv := make([]float32, d.HeadDim/2)
	for i := range inv {
		inv[i] = float32(math.Pow(d.RopeTheta, -float64(2*i)/float64(d.HeadDim)))
	}
	w["rotary_emb.inv_freq"] = bertWeight{dims: []int64{int64(len(inv))}, data: inv}
	return w
}

// qwen3Builder emits the Qwen3-Embedding graph; quantized selects 8-bit
// MatMulNBits for every projection (the embedding table and norms stay
// float32, as in the hub's model_quantized.onnx).
type qwen3Builder struct {
	g         *onnxgraph.Graph
	d         Qwen3Dims
	w         qwen3Weights
	quantized bool
	cos, sin  string // [S, head_dim/2]
	// lowest fills masked attention scores: replaced, not offset, so a
	// query that sees no key (a left pad) gets a uniform row, not NaN.
	lowest string
}

func (b *qwen3Builder) weight(name string) string {
	w, ok := b.w[name]
	if !ok {
		panic("synth: no Qwen3 weight " + name)
	}
	return b.g.Float32(name, w.dims, w.data)
}

// buildQwen3Embedding is the graph of onnx/model.onnx, or with quantized
// of onnx/model_quantized.onnx.
func buildQwen3Embedding(d Qwen3Dims, w qwen3Weights, quantized bool) *onnxgraph.Graph {
	g := onnxgraph.NewGraph("qwen3_embedding")
	b := &qwen3Builder{g: g, d: d, w: w, quantized: quantized}
	batch, seq := onnxgraph.Dynamic("batch_size"), onnxgraph.Dynamic("sequence_length")
	ids := g.Input("input_ids", onnxgraph.Int64, batch, seq)
	mask := g.Input("attention_mask", onnxgraph.Int64, batch, seq)

	x := g.Op("Gather", []string{b.weight("embed_tokens.weight"), ids})

	// The export has no position_ids input, so positions are 0..S-1
	// whatever the mask says (Hugging Face's default when none are
	// given); with right padding they are every real token's own.
	// cos/sin come from inv_freq in float32, as the traced rotary
	// embedding computes them.
	seqLen := g.Op("Shape", []string{ids}, onnxgraph.AttrInt("start", 1), onnxgraph.AttrInt("end", 2))
	positions := g.Op("Range", []string{g.ScalarInt(0), g.Op("Squeeze", []string{seqLen, g.Ints(0)}), g.ScalarInt(1)})
	posF := g.Op("Cast", []string{positions}, onnxgraph.AttrInt("to", int64(onnxgraph.Float)))
	freqs := g.Op("Mul", []string{g.Op("Unsqueeze", []string{posF, g.Ints(1)}),
		g.Op("Unsqueeze", []string{b.weight("rotary_emb.inv_freq"), g.Ints(0)})})
	b.cos, b.sin = g.Op("Cos", []string{freqs}), g.Op("Sin", []string{freqs})

	// Who sees whom: query i sees key j ≤ i where the mask is 1 — the
	// causal mask combined with the attention mask, [B,1,1,S,S] against
	// scores [B, kv_heads, groups, S, S].
	keys := g.Op("Cast", []string{mask}, onnxgraph.AttrInt("to", int64(onnxgraph.Bool)))
	keys = g.Op("Unsqueeze", []string{keys, g.Ints(1, 2, 3)})
	causal := g.Op("LessOrEqual", []string{
		g.Op("Unsqueeze", []string{positions, g.Ints(0)}), g.Op("Unsqueeze", []string{positions, g.Ints(1)})}) // [S,S]: j ≤ i
	allowed := g.Op("And", []string{keys, causal})
	b.lowest = g.Scalar(-math.MaxFloat32)

	for l := range d.Layers {
		x = b.layer(x, allowed, fmt.Sprintf("layers.%d.", l))
	}
	b.rmsNorm(x, "norm.weight", "last_hidden_state")
	g.Output("last_hidden_state", onnxgraph.Float, batch, seq, onnxgraph.Fixed(int64(d.Hidden)))
	return g
}

// layer is one Qwen3 decoder layer: pre-norm attention with per-head q/k
// RMSNorm, RoPE and grouped KV heads, then a pre-norm SwiGLU MLP.
func (b *qwen3Builder) layer(x, allowed, p string) string {
	g, d := b.g, b.d
	kv, groups, hd := int64(d.KVHeads), int64(d.Heads/d.KVHeads), int64(d.HeadDim)
	h := b.rmsNorm(x, p+"input_layernorm.weight", "")

	// q: [B,S,heads·hd] → per-head norm → [B,heads,S,hd] → RoPE →
	// [B,kv,groups,S,hd]; query head i uses KV head i/groups, as
	// Hugging Face's repeat_kv does.
	q := g.Op("Reshape", []string{b.linear(h, p+"self_attn.q_proj.weight"), g.Ints(0, 0, int64(d.Heads), hd)})
	q = b.rmsNorm(q, p+"self_attn.q_norm.weight", "")
	q = b.rope(g.Op("Transpose", []string{q}, onnxgraph.AttrInts("perm", 0, 2, 1, 3)))
	q = g.Op("Reshape", []string{q, g.Ints(0, kv, groups, -1, hd)})
	// k: [B,kv,1,hd,S]; v: [B,kv,1,S,hd].
	k := g.Op("Reshape", []string{b.linear(h, p+"self_attn.k_proj.weight"), g.Ints(0, 0, kv, hd)})
	k = b.rmsNorm(k, p+"self_attn.k_norm.weight", "")
	k = b.rope(g.Op("Transpose", []string{k}, onnxgraph.AttrInts("perm", 0, 2, 1, 3)))
	k = g.Op("Transpose", []string{g.Op("Unsqueeze", []string{k, g.Ints(2)})}, onnxgraph.AttrInts("perm", 0, 1, 2, 4, 3))
	v := g.Op("Reshape", []string{b.linear(h, p+"self_attn.v_proj.weight"), g.Ints(0, 0, kv, 1, hd)})
	v = g.Op("Transpose", []string{v}, onnxgraph.AttrInts("perm", 0, 2, 3, 1, 4))

	scores := g.Op("Mul", []string{g.Op("MatMul", []string{q, k}), g.Scalar(float32(1 / math.Sqrt(float64(hd))))})
	scores = g.Op("Where", []string{allowed, scores, b.lowest})
	probs := g.Op("Softmax", []string{scores}, onnxgraph.AttrInt("axis", -1))
	ctx := g.Op("Reshape", []string{g.Op("MatMul", []string{probs, v}), g.Ints(0, int64(d.Heads), -1, hd)})
	ctx = g.Op("Transpose", []string{ctx}, onnxgraph.AttrInts("perm", 0, 2, 1, 3))
	ctx = g.Op("Reshape", []string{ctx, g.Ints(0, 0, int64(d.Heads)*hd)})
	x = g.Op("Add", []string{x, b.linear(ctx, p+"self_attn.o_proj.weight")})

	h = b.rmsNorm(x, p+"post_attention_layernorm.weight", "")
	gate := b.linear(h, p+"mlp.gate_proj.weight")
	gate = g.Op("Mul", []string{gate, g.Op("Sigmoid", []string{gate})}) // SiLU
	ff := b.linear(g.Op("Mul", []string{gate, b.linear(h, p+"mlp.up_proj.weight")}), p+"mlp.down_proj.weight")
	return g.Op("Add", []string{x, ff})
}

// linear is x·W; quantized, an 8-bit MatMulNBits.
func (b *qwen3Builder) linear(x, name string) string {
	if !b.quantized {
		return b.g.Op("MatMul", []string{x, b.weight(name)})
	}
	w := b.w[name]
	return b.g.MatMulNBits(x, name, onnxgraph.QuantizeBlocks8(w.data, int(w.dims[0]), int(w.dims[1]), b.d.QuantBlock))
}

// rmsNorm is Qwen3's RMSNorm over the last axis: x/√(mean(x²)+ε)·w. out
// names the result when it is a graph output.
func (b *qwen3Builder) rmsNorm(x, weight, out string) string {
	g := b.g
	ms := g.Op("ReduceMean", []string{g.Op("Mul", []string{x, x})}, onnxgraph.AttrInts("axes", -1), onnxgraph.AttrInt("keepdims", 1))
	inv := g.Op("Reciprocal", []string{g.Op("Sqrt", []string{g.Op("Add", []string{ms, g.Scalar(qwen3RMSNormEps)})})})
	if out == "" {
		out = g.Fresh("RMSNorm_out")
	}
	g.Node("Mul", []string{g.Op("Mul", []string{x, inv}), b.weight(weight)}, []string{out})
	return out
}

// rope rotates [.., S, hd] by position, pairing element i with i+hd/2
// (Hugging Face's rotate_half).
func (b *qwen3Builder) rope(x string) string {
	g, half := b.g, int64(b.d.HeadDim/2)
	x1 := g.Op("Slice", []string{x, g.Ints(0), g.Ints(half), g.Ints(-1)})
	x2 := g.Op("Slice", []string{x, g.Ints(half), g.Ints(2 * half), g.Ints(-1)})
	lo := g.Op("Sub", []string{g.Op("Mul", []string{x1, b.cos}), g.Op("Mul", []string{x2, b.sin})})
	hi := g.Op("Add", []string{g.Op("Mul", []string{x2, b.cos}), g.Op("Mul", []string{x1, b.sin})})
	return g.Op("Concat", []string{lo, hi}, onnxgraph.AttrInt("axis", -1))
}
