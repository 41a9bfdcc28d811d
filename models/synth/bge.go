package synth

import (
	"context"
	"fmt"
	"math"
	"path/filepath"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// BertDims are the architecture dimensions of a BERT encoder.
type BertDims struct {
	Hidden       int
	Layers       int
	Heads        int
	Intermediate int
	Vocab        int
	MaxPositions int
	TypeVocab    int
}

// HeadDim is the width of one attention head.
func (d BertDims) HeadDim() int { return d.Hidden / d.Heads }

// bertLayerNormEps is BERT's layer_norm_eps.
const bertLayerNormEps = 1e-12

func bertDims(hidden, layers, heads, intermediate int) BertDims {
	return BertDims{Hidden: hidden, Layers: layers, Heads: heads, Intermediate: intermediate,
		Vocab: 30522, MaxPositions: 512, TypeVocab: 2}
}

// bgeVariant is one BGE model: full = the real dims (docs/model-files.md §1.1);
// tiny keeps the real vocabulary, so tokenization is the real one, with a
// hidden size of its own so a mixed-up model is caught by its width.
type bgeVariant struct {
	id, upstream string
	full, tiny   BertDims
}

var bgeVariants = []bgeVariant{
	{"@cf/baai/bge-small-en-v1.5", "BAAI/bge-small-en-v1.5", bertDims(384, 12, 12, 1536), bertDims(32, 2, 2, 128)},
	{"@cf/baai/bge-base-en-v1.5", "BAAI/bge-base-en-v1.5", bertDims(768, 12, 12, 3072), bertDims(48, 2, 3, 192)},
	{"@cf/baai/bge-large-en-v1.5", "BAAI/bge-large-en-v1.5", bertDims(1024, 24, 16, 4096), bertDims(64, 2, 4, 256)},
}

func init() {
	for _, v := range bgeVariants {
		register(Generator{Model: v.id, Generate: func(ctx context.Context, dir string, o Options) error {
			return generateBGE(ctx, dir, v, o)
		}})
	}
}

// BGEDims returns the dimensions a preset generates for a BGE model ID.
func BGEDims(model string, p Preset) (BertDims, bool) {
	for _, v := range bgeVariants {
		if v.id == model {
			if p == Full {
				return v.full, true
			}
			return v.tiny, true
		}
	}
	return BertDims{}, false
}

// BGE file names inside a model directory.
const (
	BGEModelFile          = "onnx/model.onnx"
	BGEQuantizedModelFile = "onnx/model_quantized.onnx"
	BGEFloat16ModelFile   = "onnx/model_fp16.onnx"
)

func generateBGE(ctx context.Context, dir string, v bgeVariant, o Options) error {
	d, _ := BGEDims(v.id, o.Preset)
	w := newBertWeights(newWeightSource(o.Seed, v.id), d)
	files := []string{BGEModelFile, BGEQuantizedModelFile}
	if o.Float16 {
		files = append(files, BGEFloat16ModelFile)
	}
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		g := buildBert(d, w, file == BGEQuantizedModelFile)
		if file == BGEFloat16ModelFile {
			g.ToFloat16()
		}
		m := onnxgraph.NewModel(g)
		m.Metadata = map[string]string{MarkerKey: "true", "upstream": v.upstream}
		if err := m.Save(filepath.Join(dir, filepath.FromSlash(file))); err != nil {
			return err
		}
	}
	return writeBGECompanions(dir, v, d)
}

// bertWeight is one parameter, row-major.
type bertWeight struct {
	dims []int64
	data []float32
}

// newBertWeights draws every parameter under Hugging Face's names. Linear
// weights are stored [in, out], the layout an ONNX export's MatMul reads.
// Scales keep each sublayer's output near unit variance: projections have
// std 1/√fan_in, so attention scores q·k/√d_head are ~N(0,1) and the softmax
// is neither uniform nor one-hot, and LayerNorm bounds the residual stream.
func newBertWeights(ws weightSource, d BertDims) map[string]bertWeight {
	w := map[string]bertWeight{}
	add := func(name string, center, std float64, dims ...int64) {
		w[name] = bertWeight{dims: dims, data: ws.uniform(name, int(onnxgraph.NumElements(dims)), center, std)}
	}
	h, in := int64(d.Hidden), int64(d.Intermediate)
	layerNorm := func(prefix string) {
		add(prefix+".weight", 1, 0.1, h)
		add(prefix+".bias", 0, 0.05, h)
	}
	linear := func(prefix string, fanIn, fanOut int64) {
		add(prefix+".weight", 0, 1/math.Sqrt(float64(fanIn)), fanIn, fanOut)
		add(prefix+".bias", 0, 0.02, fanOut)
	}
	add("embeddings.word_embeddings.weight", 0, 0.05, int64(d.Vocab), h)
	add("embeddings.position_embeddings.weight", 0, 0.05, int64(d.MaxPositions), h)
	add("embeddings.token_type_embeddings.weight", 0, 0.05, int64(d.TypeVocab), h)
	layerNorm("embeddings.LayerNorm")
	for l := range d.Layers {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		linear(p+"attention.self.query", h, h)
		linear(p+"attention.self.key", h, h)
		linear(p+"attention.self.value", h, h)
		linear(p+"attention.output.dense", h, h)
		layerNorm(p + "attention.output.LayerNorm")
		linear(p+"intermediate.dense", h, in)
		linear(p+"output.dense", in, h)
		layerNorm(p + "output.LayerNorm")
	}
	return w
}

// bertBuilder emits the encoder graph; quantized selects the int8 form of
// matrix products and embedding tables.
type bertBuilder struct {
	g         *onnxgraph.Graph
	d         BertDims
	w         map[string]bertWeight
	quantized bool
}

// buildBert is the optimum feature-extraction graph (docs/model-files.md §1.3):
// int64 input_ids, attention_mask, token_type_ids [batch_size,
// sequence_length] to float32 last_hidden_state [batch_size,
// sequence_length, hidden].
func buildBert(d BertDims, w map[string]bertWeight, quantized bool) *onnxgraph.Graph {
	g := onnxgraph.NewGraph("bert")
	b := &bertBuilder{g: g, d: d, w: w, quantized: quantized}
	batch, seq := onnxgraph.Dynamic("batch_size"), onnxgraph.Dynamic("sequence_length")
	ids := g.Input("input_ids", onnxgraph.Int64, batch, seq)
	mask := g.Input("attention_mask", onnxgraph.Int64, batch, seq)
	types := g.Input("token_type_ids", onnxgraph.Int64, batch, seq)

	// Positions 0..S-1 are the first S rows of the position table.
	seqLen := g.Op("Shape", []string{ids}, onnxgraph.AttrInt("start", 1), onnxgraph.AttrInt("end", 2))
	positions := b.table("embeddings.position_embeddings.weight", func(table string) string {
		return g.Op("Slice", []string{table, g.Ints(0), seqLen, g.Ints(0)})
	})
	words := b.table("embeddings.word_embeddings.weight", func(table string) string {
		return g.Op("Gather", []string{table, ids})
	})
	typeRows := b.table("embeddings.token_type_embeddings.weight", func(table string) string {
		return g.Op("Gather", []string{table, types})
	})
	x := g.Op("Add", []string{g.Op("Add", []string{words, typeRows}), positions})
	x = b.layerNorm(x, "embeddings.LayerNorm", "")

	// (1 - mask) * lowest float, broadcast over heads and query positions:
	// padded keys get a score no softmax can pick, as Hugging Face does.
	maskF := g.Op("Cast", []string{mask}, onnxgraph.AttrInt("to", int64(onnxgraph.Float)))
	inverted := g.Op("Sub", []string{g.Scalar(1), maskF})
	bias := g.Op("Mul", []string{inverted, g.Scalar(-math.MaxFloat32)})
	bias = g.Op("Unsqueeze", []string{bias, g.Ints(1, 2)})

	for l := range d.Layers {
		out := ""
		if l == d.Layers-1 {
			out = "last_hidden_state"
		}
		x = b.layer(x, bias, fmt.Sprintf("encoder.layer.%d.", l), out)
	}
	g.Output("last_hidden_state", onnxgraph.Float, batch, seq, onnxgraph.Fixed(int64(d.Hidden)))
	return g
}

func (b *bertBuilder) layer(x, bias, p, out string) string {
	g, d := b.g, b.d
	heads, headDim := int64(d.Heads), int64(d.HeadDim())
	split := g.Ints(0, 0, heads, headDim) // 0 copies batch and sequence from the input
	toHeads := func(t string, perm ...int64) string {
		return g.Op("Transpose", []string{g.Op("Reshape", []string{t, split})}, onnxgraph.AttrInts("perm", perm...))
	}
	q := toHeads(b.linear(x, p+"attention.self.query"), 0, 2, 1, 3) // [B, heads, S, dh]
	kT := toHeads(b.linear(x, p+"attention.self.key"), 0, 2, 3, 1)  // [B, heads, dh, S]
	v := toHeads(b.linear(x, p+"attention.self.value"), 0, 2, 1, 3) // [B, heads, S, dh]
	scores := g.Op("MatMul", []string{q, kT})
	scores = g.Op("Div", []string{scores, g.Scalar(float32(math.Sqrt(float64(headDim))))})
	probs := g.Op("Softmax", []string{g.Op("Add", []string{scores, bias})}, onnxgraph.AttrInt("axis", -1))
	ctx := g.Op("Transpose", []string{g.Op("MatMul", []string{probs, v})}, onnxgraph.AttrInts("perm", 0, 2, 1, 3))
	ctx = g.Op("Reshape", []string{ctx, g.Ints(0, 0, int64(d.Hidden))})
	attn := b.linear(ctx, p+"attention.output.dense")
	x = b.layerNorm(g.Op("Add", []string{attn, x}), p+"attention.output.LayerNorm", "")

	ff := b.gelu(b.linear(x, p+"intermediate.dense"))
	ff = b.linear(ff, p+"output.dense")
	return b.layerNorm(g.Op("Add", []string{ff, x}), p+"output.LayerNorm", out)
}

// table adds an embedding table and returns lookup(table) in float32. The
// quantized form looks rows up in the int8 table and dequantizes only those,
// which is what ONNX Runtime's GatherQuant emits.
func (b *bertBuilder) table(name string, lookup func(table string) string) string {
	w := b.w[name]
	if !b.quantized {
		return lookup(b.g.Float32(name, w.dims, w.data))
	}
	q, scale := quantizeSymmetric(w.data)
	rows := lookup(b.g.Int8(name+"_quantized", w.dims, q))
	return b.g.Op("DequantizeLinear", []string{rows,
		b.g.Float32(name+"_scale", nil, []float32{scale}),
		b.g.Int8(name+"_zero_point", nil, []int8{0})})
}

// linear is x·W + b. Quantized, it is ONNX Runtime's dynamic quantization
// pattern: DynamicQuantizeLinear on x (uint8, per tensor), MatMulInteger
// with the int8 weight, and the int32 result rescaled by x_scale·w_scale.
func (b *bertBuilder) linear(x, prefix string) string {
	g := b.g
	w, bias := b.w[prefix+".weight"], b.w[prefix+".bias"]
	biasName := g.Float32(prefix+".bias", bias.dims, bias.data)
	if !b.quantized {
		return g.Op("Add", []string{g.Op("MatMul", []string{x, g.Float32(prefix+".weight", w.dims, w.data)}), biasName})
	}
	q, scale := quantizeSymmetric(w.data)
	xq := g.OpN("DynamicQuantizeLinear", []string{x}, 3) // x_quantized, x_scale, x_zero_point
	acc := g.Op("MatMulInteger", []string{xq[0],
		g.Int8(prefix+".weight_quantized", w.dims, q), xq[2],
		g.Int8(prefix+".weight_zero_point", nil, []int8{0})})
	scales := g.Op("Mul", []string{xq[1], g.Float32(prefix+".weight_scale", nil, []float32{scale})})
	y := g.Op("Mul", []string{g.Op("Cast", []string{acc}, onnxgraph.AttrInt("to", int64(onnxgraph.Float))), scales})
	return g.Op("Add", []string{y, biasName})
}

// layerNorm normalizes over the hidden axis; out names the result when it
// is a graph output.
func (b *bertBuilder) layerNorm(x, prefix, out string) string {
	g := b.g
	gamma, beta := b.w[prefix+".weight"], b.w[prefix+".bias"]
	if out == "" {
		out = g.Fresh("LayerNormalization_out")
	}
	g.Node("LayerNormalization", []string{x,
		g.Float32(prefix+".weight", gamma.dims, gamma.data),
		g.Float32(prefix+".bias", beta.dims, beta.data)}, []string{out},
		onnxgraph.AttrInt("axis", -1), onnxgraph.AttrFloat("epsilon", bertLayerNormEps))
	return out
}

// gelu is BERT's exact GELU, x·½·(1 + erf(x/√2)); opset 17 has no Gelu op.
func (b *bertBuilder) gelu(x string) string {
	g := b.g
	e := g.Op("Erf", []string{g.Op("Div", []string{x, g.Scalar(math.Sqrt2)})})
	return g.Op("Mul", []string{g.Op("Mul", []string{x, g.Op("Add", []string{e, g.Scalar(1)})}), g.Scalar(0.5)})
}
