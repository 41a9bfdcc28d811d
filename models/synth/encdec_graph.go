package synth

import (
	"fmt"
	"math"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// maskMin is torch.finfo(float32).min, the additive mask transformers puts
// on attention scores that must be ignored.
const maskMin = -math.MaxFloat32

// layerNormEps is nn.LayerNorm's default epsilon, which M2M100 and Whisper
// use.
const layerNormEps = 1e-5

// The feed-forward activations of the encoder-decoder families.
const (
	reluActivation = "relu" // M2M100
	geluActivation = "gelu" // Whisper: the exact, erf-based GELU
)

// encDecShape is what the shared encoder-decoder builder needs to know of
// a family: its widths and the two places pre-LN transformer layers differ.
type encDecShape struct {
	DModel, Heads, FFN, Vocab, DecoderLayers int
	Activation                               string // reluActivation or geluActivation
	KeyBias                                  bool   // k_proj has a bias (M2M100) or not (Whisper)
}

// HeadDim is the per-head width of queries, keys and values.
func (s encDecShape) HeadDim() int { return s.DModel / s.Heads }

// encDecBuilder emits the pre-LayerNorm transformer layers of an
// encoder-decoder (M2M100, Whisper) into g. Weights always go to top, the
// model's main graph, even while g is an If branch: branches read them by
// name, so the merged decoder stores each tensor once.
//
// quantized builds the int8 form (encdec_int8.go).
type encDecBuilder struct {
	top, g    *onnxgraph.Graph
	w         *encDecWeights
	s         encDecShape
	added     map[string]bool // weights already in top
	quantized bool
}

func newEncDecBuilder(top *onnxgraph.Graph, w *encDecWeights, s encDecShape, quantized bool) *encDecBuilder {
	return &encDecBuilder{top: top, g: top, w: w, s: s, added: map[string]bool{}, quantized: quantized}
}

// branch returns a builder for an If branch of b's main graph.
func (b *encDecBuilder) branch(name string) *encDecBuilder {
	return &encDecBuilder{top: b.top, g: b.top.Subgraph(name), w: b.w, s: b.s, added: b.added, quantized: b.quantized}
}

// param adds t to the main graph on first use and returns its name.
func (b *encDecBuilder) param(t *onnxgraph.Tensor) string {
	if !b.added[t.Name] {
		b.added[t.Name] = true
		b.top.Initializer(t)
	}
	return t.Name
}

// named adds a one-output node whose output is out, or a fresh name when
// out is empty.
func (b *encDecBuilder) named(out, op string, inputs []string, attrs ...onnxgraph.Attr) string {
	if out == "" {
		return b.g.Op(op, inputs, attrs...)
	}
	b.g.Node(op, inputs, []string{out}, attrs...)
	return out
}

// matMul is x·w for a [in, out] weight, int8 in the quantized form.
func (b *encDecBuilder) matMul(x string, w *onnxgraph.Tensor) string {
	if b.quantized {
		q := b.w.quantized(w, true)
		return b.integerMatMul(x, b.param(q.values), q, "")
	}
	return b.g.Op("MatMul", []string{x, b.param(w)})
}

func (b *encDecBuilder) linear(x, prefix string, in, out int) string {
	w, bias := b.w.linear(prefix, in, out)
	return b.g.Op("Add", []string{b.matMul(x, w), b.param(bias)})
}

func (b *encDecBuilder) layerNorm(x, prefix, out string) string {
	gain, bias := b.w.layerNorm(prefix)
	return b.named(out, "LayerNormalization", []string{x, b.param(gain), b.param(bias)},
		onnxgraph.AttrInt("axis", -1), onnxgraph.AttrFloat("epsilon", layerNormEps))
}

// activate applies the family's feed-forward activation. GELU is written
// as torch.onnx exports the exact form, x·½(1+erf(x/√2)), which ONNX
// Runtime fuses into its Gelu kernel.
func (b *encDecBuilder) activate(x string) string {
	if b.s.Activation == reluActivation {
		return b.g.Op("Relu", []string{x})
	}
	g := b.g
	e := g.Op("Erf", []string{g.Op("Div", []string{x, g.Scalar(float32(math.Sqrt2))})})
	return g.Op("Mul", []string{g.Op("Mul", []string{x, g.Op("Add", []string{e, g.Scalar(1)})}), g.Scalar(0.5)})
}

// splitHeads turns [B, T, d_model] into [B, heads, T, head_dim], the layout
// of the key/value cache.
func (b *encDecBuilder) splitHeads(x, out string) string {
	r := b.g.Op("Reshape", []string{x, b.g.Ints(0, 0, int64(b.s.Heads), int64(b.s.HeadDim()))})
	return b.named(out, "Transpose", []string{r}, onnxgraph.AttrInts("perm", 0, 2, 1, 3))
}

func (b *encDecBuilder) mergeHeads(x string) string {
	t := b.g.Op("Transpose", []string{x}, onnxgraph.AttrInts("perm", 0, 2, 1, 3))
	return b.g.Op("Reshape", []string{t, b.g.Ints(0, 0, int64(b.s.DModel))})
}

// attend is softmax(q·kᵀ + mask)·v over [B, heads, ·, head_dim] tensors;
// q is already scaled, as M2M100Attention and WhisperAttention scale the
// query projection. An empty mask adds nothing; probsOut, when set, names
// the softmaxed weights (Whisper's cross_attentions outputs).
func (b *encDecBuilder) attend(q, k, v, mask, probsOut string) string {
	kt := b.g.Op("Transpose", []string{k}, onnxgraph.AttrInts("perm", 0, 1, 3, 2))
	scores := b.g.Op("MatMul", []string{q, kt})
	if mask != "" {
		scores = b.g.Op("Add", []string{scores, mask})
	}
	probs := b.named(probsOut, "Softmax", []string{scores}, onnxgraph.AttrInt("axis", -1))
	return b.g.Op("MatMul", []string{probs, v})
}

// query is the scaled query projection, split into heads.
func (b *encDecBuilder) query(x, prefix string) string {
	q := b.linear(x, prefix+".q_proj", b.s.DModel, b.s.DModel)
	scaled := b.g.Op("Mul", []string{q, b.g.Scalar(float32(1 / math.Sqrt(float64(b.s.HeadDim()))))})
	return b.splitHeads(scaled, "")
}

func (b *encDecBuilder) keyValue(x, prefix, keyOut, valueOut string) (k, v string) {
	d := b.s.DModel
	var key string
	if b.s.KeyBias {
		key = b.linear(x, prefix+".k_proj", d, d)
	} else {
		key = b.matMul(x, b.w.linearWeight(prefix+".k_proj", d, d))
	}
	k = b.splitHeads(key, keyOut)
	v = b.splitHeads(b.linear(x, prefix+".v_proj", d, d), valueOut)
	return k, v
}

func (b *encDecBuilder) attnOut(ctx, prefix string) string {
	return b.linear(b.mergeHeads(ctx), prefix+".out_proj", b.s.DModel, b.s.DModel)
}

// causalMask is the additive [T, past+T] mask that lets decoder position
// past+i see keys 0…past+i.
func (b *encDecBuilder) causalMask(ids, pastLen string) string {
	g := b.g
	steps := g.Op("Gather", []string{g.Op("Shape", []string{ids}), g.ScalarInt(1)})
	end := g.Op("Add", []string{pastLen, steps})
	one := g.ScalarInt(1)
	rows := g.Op("Unsqueeze", []string{g.Op("Range", []string{pastLen, end, one}), g.Ints(1)})
	cols := g.Op("Unsqueeze", []string{g.Op("Range", []string{g.ScalarInt(0), end, one}), g.Ints(0)})
	visible := g.Op("LessOrEqual", []string{cols, rows})
	return g.Op("Where", []string{visible, g.Scalar(0), g.Scalar(maskMin)})
}

// ffn is the feed-forward block, pre-LayerNorm with its residual.
func (b *encDecBuilder) ffn(h, prefix string) string {
	d := b.s.DModel
	x := b.layerNorm(h, prefix+".final_layer_norm", "")
	x = b.activate(b.linear(x, prefix+".fc1", d, b.s.FFN))
	x = b.linear(x, prefix+".fc2", b.s.FFN, d)
	return b.g.Op("Add", []string{h, x})
}

// encoderLayer is one pre-LN encoder layer; mask is additive or empty.
func (b *encDecBuilder) encoderLayer(h, mask string, i int) string {
	prefix := fmt.Sprintf("model.encoder.layers.%d", i)
	x := b.layerNorm(h, prefix+".self_attn_layer_norm", "")
	q := b.query(x, prefix+".self_attn")
	k, v := b.keyValue(x, prefix+".self_attn", "", "")
	h = b.g.Op("Add", []string{h, b.attnOut(b.attend(q, k, v, mask, ""), prefix+".self_attn")})
	return b.ffn(h, prefix)
}

// lmHead projects onto the vocabulary with the token embedding table
// (tied, as in M2M100ForConditionalGeneration and
// WhisperForConditionalGeneration, neither with a logits bias). Gemm with
// transB reads the [vocab, d_model] matrix as stored, so the weight is kept
// once and no transposed copy is folded at load time.
func (b *encDecBuilder) lmHead(h string, table *onnxgraph.Tensor, out string) string {
	if b.quantized {
		return b.quantizedLMHead(h, table, out)
	}
	g := b.g
	flat := g.Op("Reshape", []string{h, g.Ints(-1, int64(b.s.DModel))})
	scores := g.Op("Gemm", []string{flat, b.param(table)}, onnxgraph.AttrInt("transB", 1))
	lead := g.Op("Slice", []string{g.Op("Shape", []string{h}), g.Ints(0), g.Ints(2)})
	shape := g.Op("Concat", []string{lead, g.Ints(int64(b.s.Vocab))}, onnxgraph.AttrInt("axis", 0))
	return b.named(out, "Reshape", []string{scores, shape})
}

// encDecModel wraps a finished graph, marked as synthetic.
func encDecModel(g *onnxgraph.Graph) *onnxgraph.Model {
	m := onnxgraph.NewModel(g)
	m.Metadata = map[string]string{MarkerKey: "true"}
	return m
}

// encDecFile is the path of one ONNX file: onnx/<base>.onnx, or
// onnx/<base>_quantized.onnx for the int8 form.
func encDecFile(base string, quantized bool) string {
	if quantized {
		base += "_quantized"
	}
	return "onnx/" + base + ".onnx"
}
