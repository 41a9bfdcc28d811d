package synth

import (
	"fmt"
	"math"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// BertDims are the architecture dimensions of a BERT-family encoder (BERT,
// DistilBERT, XLM-RoBERTa).
type BertDims struct {
	Hidden       int
	Layers       int
	Heads        int
	Intermediate int
	Vocab        int
	MaxPositions int
	// TypeVocab is the size of the token-type table; 0 for DistilBERT,
	// which has none.
	TypeVocab int
}

// HeadDim is the width of one attention head.
func (d BertDims) HeadDim() int { return d.Hidden / d.Heads }

// bertLayerNormEps is BERT's (and DistilBERT's) layer_norm_eps.
const bertLayerNormEps = 1e-12

func bertDims(hidden, layers, heads, intermediate int) BertDims {
	return BertDims{Hidden: hidden, Layers: layers, Heads: heads, Intermediate: intermediate,
		Vocab: 30522, MaxPositions: 512, TypeVocab: 2}
}

// encoderHead is the task head on top of the encoder.
type encoderHead int

const (
	// headNone outputs last_hidden_state (feature extraction).
	headNone encoderHead = iota
	// headDistilBERT is DistilBertForSequenceClassification's: the first
	// token's state through pre_classifier, ReLU, then classifier.
	headDistilBERT
	// headRoBERTa is RobertaClassificationHead (XLM-R too): the <s> state
	// through classifier.dense, tanh, then classifier.out_proj.
	headRoBERTa
)

// sublayerNames are the Hugging Face names of one layer's parameters,
// relative to the layer's prefix.
type sublayerNames struct {
	query, key, value, attnOut, attnNorm, inter, out, outNorm string
}

var (
	bertSublayers = sublayerNames{"attention.self.query", "attention.self.key", "attention.self.value",
		"attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"}
	distilBertSublayers = sublayerNames{"attention.q_lin", "attention.k_lin", "attention.v_lin",
		"attention.out_lin", "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"}
)

// encoderArch is what tells the BERT-family encoders apart: the same
// post-LayerNorm transformer with GELU, different parameter names,
// embeddings, epsilon and head.
type encoderArch struct {
	// prefix is the base model's parameter prefix inside a task model
	// ("distilbert.", "roberta."); empty for a bare encoder.
	prefix string
	// layer is the format of a layer's parameter prefix (after prefix),
	// given the layer index.
	layer string
	sub   sublayerNames
	// tokenTypeInput makes token_type_ids an input (BERT). Without it, an
	// encoder that has a token-type table adds row 0 to every token
	// (XLM-R, whose exports take no token_type_ids).
	tokenTypeInput bool
	// padIdx ≥ 0 numbers positions as RoBERTa does: padIdx+1 onwards for
	// real tokens, padIdx for pads (create_position_ids_from_input_ids);
	// -1 numbers them 0..S-1.
	padIdx int64
	eps    float64
	head   encoderHead
	// labels is the width of logits for a classification head.
	labels int
}

var bertArch = encoderArch{layer: "encoder.layer.%d.", sub: bertSublayers, tokenTypeInput: true, padIdx: -1, eps: bertLayerNormEps}

func (a encoderArch) layerPrefix(l int) string { return a.prefix + fmt.Sprintf(a.layer, l) }

// headParams are the (first, second) linear layers of a's head.
func (a encoderArch) headParams() (string, string) {
	switch a.head {
	case headDistilBERT:
		return "pre_classifier", "classifier"
	case headRoBERTa:
		return "classifier.dense", "classifier.out_proj"
	}
	return "", ""
}

// bertWeight is one parameter, row-major.
type bertWeight struct {
	dims []int64
	data []float32
}

// encoderParam is one parameter of an encoder: its Hugging Face name,
// dims, and the center and spread its values are drawn with.
type encoderParam struct {
	name        string
	dims        []int64
	center, std float64
}

// encoderParams lists every parameter under Hugging Face's names. Linear
// weights are stored [in, out], the layout an ONNX export's MatMul reads.
// Scales keep each sublayer's output near unit variance: projections have
// std 1/√fan_in, so attention scores q·k/√d_head are ~N(0,1) and the softmax
// is neither uniform nor one-hot, and LayerNorm bounds the residual stream.
func encoderParams(d BertDims, a encoderArch) []encoderParam {
	var ps []encoderParam
	add := func(name string, center, std float64, dims ...int64) {
		ps = append(ps, encoderParam{name, dims, center, std})
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
	e := a.prefix + "embeddings."
	add(e+"word_embeddings.weight", 0, 0.05, int64(d.Vocab), h)
	add(e+"position_embeddings.weight", 0, 0.05, int64(d.MaxPositions), h)
	if d.TypeVocab > 0 {
		add(e+"token_type_embeddings.weight", 0, 0.05, int64(d.TypeVocab), h)
	}
	layerNorm(e + "LayerNorm")
	s := a.sub
	for l := range d.Layers {
		p := a.layerPrefix(l)
		linear(p+s.query, h, h)
		linear(p+s.key, h, h)
		linear(p+s.value, h, h)
		linear(p+s.attnOut, h, h)
		layerNorm(p + s.attnNorm)
		linear(p+s.inter, h, in)
		linear(p+s.out, in, h)
		layerNorm(p + s.outNorm)
	}
	if a.head != headNone {
		first, second := a.headParams()
		linear(first, h, h)
		linear(second, h, int64(a.labels))
	}
	return ps
}

// newEncoderWeights draws every parameter of encoderParams. Each tensor's
// values depend only on the seed, the model and its name.
func newEncoderWeights(ws weightSource, d BertDims, a encoderArch) map[string]bertWeight {
	w := map[string]bertWeight{}
	for _, p := range encoderParams(d, a) {
		w[p.name] = bertWeight{dims: p.dims, data: ws.uniform(p.name, int(onnxgraph.NumElements(p.dims)), p.center, p.std)}
	}
	return w
}

// bertBuilder emits the encoder graph; quantized selects the int8 form of
// matrix products and embedding tables.
type bertBuilder struct {
	g         *onnxgraph.Graph
	d         BertDims
	a         encoderArch
	w         map[string]bertWeight
	quantized bool
}

// buildEncoder is the optimum export of a BERT-family model
// (docs/model-files.md §1.3): int64 input_ids, attention_mask (and
// token_type_ids for BERT) [batch_size, sequence_length] to float32
// last_hidden_state [batch_size, sequence_length, hidden], or, with a
// classification head, logits [batch_size, labels].
func buildEncoder(d BertDims, a encoderArch, w map[string]bertWeight, quantized bool) *onnxgraph.Graph {
	g := onnxgraph.NewGraph("bert")
	b := &bertBuilder{g: g, d: d, a: a, w: w, quantized: quantized}
	batch, seq := onnxgraph.Dynamic("batch_size"), onnxgraph.Dynamic("sequence_length")
	ids := g.Input("input_ids", onnxgraph.Int64, batch, seq)
	mask := g.Input("attention_mask", onnxgraph.Int64, batch, seq)
	e := a.prefix + "embeddings."
	typeIDs := ""
	if a.tokenTypeInput {
		typeIDs = g.Input("token_type_ids", onnxgraph.Int64, batch, seq)
	}

	positions := b.positions(ids, e+"position_embeddings.weight")
	x := b.table(e+"word_embeddings.weight", func(table string) string {
		return g.Op("Gather", []string{table, ids})
	})
	if d.TypeVocab > 0 {
		if typeIDs == "" {
			typeIDs = g.ScalarInt(0) // every token is of type 0: one row, broadcast
		}
		typeRows := b.table(e+"token_type_embeddings.weight", func(table string) string {
			return g.Op("Gather", []string{table, typeIDs})
		})
		x = g.Op("Add", []string{x, typeRows})
	}
	x = g.Op("Add", []string{x, positions})
	x = b.layerNorm(x, e+"LayerNorm", "")

	// (1 - mask) * lowest float, broadcast over heads and query positions:
	// padded keys get a score no softmax can pick, as Hugging Face does.
	maskF := g.Op("Cast", []string{mask}, onnxgraph.AttrInt("to", int64(onnxgraph.Float)))
	inverted := g.Op("Sub", []string{g.Scalar(1), maskF})
	bias := g.Op("Mul", []string{inverted, g.Scalar(-math.MaxFloat32)})
	bias = g.Op("Unsqueeze", []string{bias, g.Ints(1, 2)})

	for l := range d.Layers {
		out := ""
		if l == d.Layers-1 && a.head == headNone {
			out = "last_hidden_state"
		}
		x = b.layer(x, bias, a.layerPrefix(l), out)
	}
	if a.head == headNone {
		g.Output("last_hidden_state", onnxgraph.Float, batch, seq, onnxgraph.Fixed(int64(d.Hidden)))
		return g
	}
	first, second := a.headParams()
	cls := g.Op("Gather", []string{x, g.ScalarInt(0)}, onnxgraph.AttrInt("axis", 1)) // [B, hidden]
	act := "Relu"
	if a.head == headRoBERTa {
		act = "Tanh"
	}
	hidden := g.Op(act, []string{b.linear(cls, first)})
	g.Node("Identity", []string{b.linear(hidden, second)}, []string{"logits"})
	g.Output("logits", onnxgraph.Float, batch, onnxgraph.Fixed(int64(a.labels)))
	return g
}

// positions returns the position embedding of every token. BERT's are rows
// 0..S-1 of the table; RoBERTa's count only the real tokens, from padIdx+1,
// and give pads padIdx, computed from input_ids as the export does.
func (b *bertBuilder) positions(ids, table string) string {
	g := b.g
	if b.a.padIdx < 0 {
		seqLen := g.Op("Shape", []string{ids}, onnxgraph.AttrInt("start", 1), onnxgraph.AttrInt("end", 2))
		return b.table(table, func(t string) string {
			return g.Op("Slice", []string{t, g.Ints(0), seqLen, g.Ints(0)})
		})
	}
	pad := g.ScalarInt(b.a.padIdx)
	real := g.Op("Cast", []string{g.Op("Not", []string{g.Op("Equal", []string{ids, pad})})},
		onnxgraph.AttrInt("to", int64(onnxgraph.Int64)))
	count := g.Op("CumSum", []string{real, g.ScalarInt(1)})
	pos := g.Op("Add", []string{g.Op("Mul", []string{count, real}), pad})
	return b.table(table, func(t string) string {
		return g.Op("Gather", []string{t, pos})
	})
}

func (b *bertBuilder) layer(x, bias, p, out string) string {
	g, d, s := b.g, b.d, b.a.sub
	heads, headDim := int64(d.Heads), int64(d.HeadDim())
	split := g.Ints(0, 0, heads, headDim) // 0 copies batch and sequence from the input
	toHeads := func(t string, perm ...int64) string {
		return g.Op("Transpose", []string{g.Op("Reshape", []string{t, split})}, onnxgraph.AttrInts("perm", perm...))
	}
	q := toHeads(b.linear(x, p+s.query), 0, 2, 1, 3) // [B, heads, S, dh]
	kT := toHeads(b.linear(x, p+s.key), 0, 2, 3, 1)  // [B, heads, dh, S]
	v := toHeads(b.linear(x, p+s.value), 0, 2, 1, 3) // [B, heads, S, dh]
	scores := g.Op("MatMul", []string{q, kT})
	scores = g.Op("Div", []string{scores, g.Scalar(float32(math.Sqrt(float64(headDim))))})
	probs := g.Op("Softmax", []string{g.Op("Add", []string{scores, bias})}, onnxgraph.AttrInt("axis", -1))
	ctx := g.Op("Transpose", []string{g.Op("MatMul", []string{probs, v})}, onnxgraph.AttrInts("perm", 0, 2, 1, 3))
	ctx = g.Op("Reshape", []string{ctx, g.Ints(0, 0, int64(d.Hidden))})
	attn := b.linear(ctx, p+s.attnOut)
	x = b.layerNorm(g.Op("Add", []string{attn, x}), p+s.attnNorm, "")

	ff := b.gelu(b.linear(x, p+s.inter))
	ff = b.linear(ff, p+s.out)
	return b.layerNorm(g.Op("Add", []string{ff, x}), p+s.outNorm, out)
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
		onnxgraph.AttrInt("axis", -1), onnxgraph.AttrFloat("epsilon", float32(b.a.eps)))
	return out
}

// gelu is BERT's exact GELU, x·½·(1 + erf(x/√2)); opset 17 has no Gelu op.
func (b *bertBuilder) gelu(x string) string {
	g := b.g
	e := g.Op("Erf", []string{g.Op("Div", []string{x, g.Scalar(math.Sqrt2)})})
	return g.Op("Mul", []string{g.Op("Mul", []string{x, g.Op("Add", []string{e, g.Scalar(1)})}), g.Scalar(0.5)})
}

// encoderFiles are the ONNX files of a Xenova-layout encoder: fp32,
// int8 (dynamic quantization) and, with Options.Float16, fp16.
func encoderFiles(o Options) []string {
	files := []string{BGEModelFile, BGEQuantizedModelFile}
	if o.Float16 {
		files = append(files, BGEFloat16ModelFile)
	}
	return files
}

// saveEncoder writes one ONNX file of an encoder; external puts the fp32
// weights in "<file>_data" as large exports do.
func saveEncoder(path string, d BertDims, a encoderArch, w map[string]bertWeight, file, upstream string, external bool) error {
	g := buildEncoder(d, a, w, file == BGEQuantizedModelFile)
	if file == BGEFloat16ModelFile {
		g.ToFloat16()
	}
	m := onnxgraph.NewModel(g)
	m.Metadata = map[string]string{MarkerKey: "true", "upstream": upstream}
	m.ExternalData = external && file == BGEModelFile
	return m.Save(path)
}
