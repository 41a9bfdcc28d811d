package synth

import (
	"fmt"
	"math"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// m2m100MaskMin is torch.finfo(float32).min, the additive mask transformers
// puts on attention scores that must be ignored.
const m2m100MaskMin = -math.MaxFloat32

// m2m100LayerNormEps is nn.LayerNorm's default epsilon, which M2M100 uses.
const m2m100LayerNormEps = 1e-5

// m2m100Builder emits M2M100 computations into g. Weights always go to
// top, the model's main graph, even while g is an If branch: branches read
// them by name, so the merged decoder stores each tensor once.
//
// quantized builds the int8 form (m2m100_int8.go).
type m2m100Builder struct {
	top, g    *onnxgraph.Graph
	w         *m2m100Weights
	added     map[string]bool // weights already in top
	quantized bool
}

func newM2M100Builder(top *onnxgraph.Graph, w *m2m100Weights, quantized bool) *m2m100Builder {
	return &m2m100Builder{top: top, g: top, w: w, added: map[string]bool{}, quantized: quantized}
}

// branch returns a builder for an If branch of b's main graph.
func (b *m2m100Builder) branch(name string) *m2m100Builder {
	return &m2m100Builder{top: b.top, g: b.top.Subgraph(name), w: b.w, added: b.added, quantized: b.quantized}
}

// param adds t to the main graph on first use and returns its name.
func (b *m2m100Builder) param(t *onnxgraph.Tensor) string {
	if !b.added[t.Name] {
		b.added[t.Name] = true
		b.top.Initializer(t)
	}
	return t.Name
}

// named adds a one-output node whose output is out, or a fresh name when
// out is empty.
func (b *m2m100Builder) named(out, op string, inputs []string, attrs ...onnxgraph.Attr) string {
	if out == "" {
		return b.g.Op(op, inputs, attrs...)
	}
	b.g.Node(op, inputs, []string{out}, attrs...)
	return out
}

func (b *m2m100Builder) linear(x, prefix string, in, out int) string {
	w, bias := b.w.linear(prefix, in, out)
	var y string
	if b.quantized {
		q := b.w.quantized(w, true)
		y = b.integerMatMul(x, b.param(q.values), q, "")
	} else {
		y = b.g.Op("MatMul", []string{x, b.param(w)})
	}
	return b.g.Op("Add", []string{y, b.param(bias)})
}

func (b *m2m100Builder) layerNorm(x, prefix, out string) string {
	gain, bias := b.w.layerNorm(prefix)
	return b.named(out, "LayerNormalization", []string{x, b.param(gain), b.param(bias)},
		onnxgraph.AttrInt("axis", -1), onnxgraph.AttrFloat("epsilon", m2m100LayerNormEps))
}

// splitHeads turns [B, T, d_model] into [B, heads, T, head_dim], the layout
// of the key/value cache.
func (b *m2m100Builder) splitHeads(x, out string) string {
	d := b.w.d
	r := b.g.Op("Reshape", []string{x, b.g.Ints(0, 0, int64(d.Heads), int64(d.HeadDim()))})
	return b.named(out, "Transpose", []string{r}, onnxgraph.AttrInts("perm", 0, 2, 1, 3))
}

func (b *m2m100Builder) mergeHeads(x string) string {
	t := b.g.Op("Transpose", []string{x}, onnxgraph.AttrInts("perm", 0, 2, 1, 3))
	return b.g.Op("Reshape", []string{t, b.g.Ints(0, 0, int64(b.w.d.DModel))})
}

// attend is softmax(q·kᵀ + mask)·v over [B, heads, ·, head_dim] tensors;
// q is already scaled, as M2M100Attention scales the query projection.
func (b *m2m100Builder) attend(q, k, v, mask string) string {
	kt := b.g.Op("Transpose", []string{k}, onnxgraph.AttrInts("perm", 0, 1, 3, 2))
	scores := b.g.Op("Add", []string{b.g.Op("MatMul", []string{q, kt}), mask})
	probs := b.g.Op("Softmax", []string{scores}, onnxgraph.AttrInt("axis", -1))
	return b.g.Op("MatMul", []string{probs, v})
}

// query is the scaled query projection, split into heads.
func (b *m2m100Builder) query(x, prefix string) string {
	d := b.w.d
	q := b.linear(x, prefix+".q_proj", d.DModel, d.DModel)
	scaled := b.g.Op("Mul", []string{q, b.g.Scalar(float32(1 / math.Sqrt(float64(d.HeadDim()))))})
	return b.splitHeads(scaled, "")
}

func (b *m2m100Builder) keyValue(x, prefix, keyOut, valueOut string) (k, v string) {
	d := b.w.d
	k = b.splitHeads(b.linear(x, prefix+".k_proj", d.DModel, d.DModel), keyOut)
	v = b.splitHeads(b.linear(x, prefix+".v_proj", d.DModel, d.DModel), valueOut)
	return k, v
}

func (b *m2m100Builder) attnOut(ctx, prefix string) string {
	d := b.w.d
	return b.linear(b.mergeHeads(ctx), prefix+".out_proj", d.DModel, d.DModel)
}

// embed is the scaled token embedding plus the sinusoidal position of each
// token, positions counted as create_position_ids_from_input_ids does:
// pad tokens get the (zero) pad row, others pad+1+past+their index among
// the non-pad tokens. pastLen is an int64 scalar.
func (b *m2m100Builder) embed(ids, pastLen, component string) string {
	d := b.w.d
	g := b.g
	tokens := b.lookup(b.w.shared(), ids)
	tokens = g.Op("Mul", []string{tokens, g.Scalar(float32(math.Sqrt(float64(d.DModel))))})
	pad := g.ScalarInt(m2m100PadID)
	notPad := g.Op("Cast", []string{g.Op("Not", []string{g.Op("Equal", []string{ids, pad})})},
		onnxgraph.AttrInt("to", int64(onnxgraph.Int64)))
	count := g.Op("CumSum", []string{notPad, g.ScalarInt(1)})
	pos := g.Op("Add", []string{g.Op("Mul", []string{g.Op("Add", []string{count, pastLen}), notPad}), pad})
	// The int8 files keep this table in float32, as the hub's do: each of
	// them is about 3 MB over its int8 weights, the table's float32 size
	// less its int8 size.
	positions := g.Op("Gather", []string{b.param(b.w.positions(component)), pos})
	return g.Op("Add", []string{tokens, positions})
}

// paddingMask turns an int64 [B, S] attention mask into the additive
// [B, 1, 1, S] mask of transformers' _expand_mask.
func (b *m2m100Builder) paddingMask(mask string) string {
	g := b.g
	m := g.Op("Cast", []string{mask}, onnxgraph.AttrInt("to", int64(onnxgraph.Float)))
	inverted := g.Op("Sub", []string{g.Scalar(1), m})
	additive := g.Op("Mul", []string{inverted, g.Scalar(m2m100MaskMin)})
	return g.Op("Unsqueeze", []string{additive, g.Ints(1, 2)})
}

// causalMask is the additive [T, past+T] mask that lets decoder position
// past+i see keys 0…past+i.
func (b *m2m100Builder) causalMask(ids, pastLen string) string {
	g := b.g
	steps := g.Op("Gather", []string{g.Op("Shape", []string{ids}), g.ScalarInt(1)})
	end := g.Op("Add", []string{pastLen, steps})
	one := g.ScalarInt(1)
	rows := g.Op("Unsqueeze", []string{g.Op("Range", []string{pastLen, end, one}), g.Ints(1)})
	cols := g.Op("Unsqueeze", []string{g.Op("Range", []string{g.ScalarInt(0), end, one}), g.Ints(0)})
	visible := g.Op("LessOrEqual", []string{cols, rows})
	return g.Op("Where", []string{visible, g.Scalar(0), g.Scalar(m2m100MaskMin)})
}

// ffn is the ReLU feed-forward block, pre-LayerNorm with its residual.
func (b *m2m100Builder) ffn(h, prefix string, ffnDim int) string {
	d := b.w.d
	x := b.layerNorm(h, prefix+".final_layer_norm", "")
	x = b.g.Op("Relu", []string{b.linear(x, prefix+".fc1", d.DModel, ffnDim)})
	x = b.linear(x, prefix+".fc2", ffnDim, d.DModel)
	return b.g.Op("Add", []string{h, x})
}

func (b *m2m100Builder) encoderLayer(h, mask string, i int) string {
	prefix := fmt.Sprintf("model.encoder.layers.%d", i)
	x := b.layerNorm(h, prefix+".self_attn_layer_norm", "")
	q := b.query(x, prefix+".self_attn")
	k, v := b.keyValue(x, prefix+".self_attn", "", "")
	h = b.g.Op("Add", []string{h, b.attnOut(b.attend(q, k, v, mask), prefix+".self_attn")})
	return b.ffn(h, prefix, b.w.d.FFN)
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

	b := newM2M100Builder(g, w, quantized)
	h := b.embed(ids, g.ScalarInt(0), "encoder")
	additive := b.paddingMask(mask)
	for i := range d.EncoderLayers {
		h = b.encoderLayer(h, additive, i)
	}
	b.layerNorm(h, "model.encoder.layer_norm", "last_hidden_state")
	g.Output("last_hidden_state", onnxgraph.Float, batch, seq, onnxgraph.Fixed(int64(d.DModel)))
	return m2m100Model(g)
}

func m2m100Model(g *onnxgraph.Graph) *onnxgraph.Model {
	m := onnxgraph.NewModel(g)
	m.Metadata = map[string]string{MarkerKey: "true"}
	return m
}

// lmHead projects onto the vocabulary with the shared embedding (tied, as
// in M2M100ForConditionalGeneration, which has no logits bias). Gemm with
// transB reads the [vocab, d_model] matrix as stored, so the weight is kept
// once and no transposed copy is folded at load time.
func (b *m2m100Builder) lmHead(h, out string) string {
	if b.quantized {
		return b.quantizedLMHead(h, out)
	}
	d := b.w.d
	g := b.g
	flat := g.Op("Reshape", []string{h, g.Ints(-1, int64(d.DModel))})
	scores := g.Op("Gemm", []string{flat, b.param(b.w.shared())}, onnxgraph.AttrInt("transB", 1))
	lead := g.Op("Slice", []string{g.Op("Shape", []string{h}), g.Ints(0), g.Ints(2)})
	shape := g.Op("Concat", []string{lead, g.Ints(int64(d.Vocab))}, onnxgraph.AttrInt("axis", 0))
	return b.named(out, "Reshape", []string{scores, shape})
}
