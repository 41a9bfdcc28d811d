package embeddinggemma

import (
	"context"
	"fmt"
	"math"
	"sync"
	"unicode/utf8"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// Model is a loaded EmbeddingGemma model.
type Model struct {
	tok       tokenizer
	sess      *ort.Session
	pad       int64
	width     int // sentence_embedding's width (768)
	maxTokens int
	sched     *batch.Scheduler[[]int64, []float32]
	out       int // index of sentence_embedding among the outputs
	// others are the outputs not read (last_hidden_state in the
	// onnx-community export), which every run writes all the same.
	others []otherOutput
	// buffers holds *batchBuffers, one per batch in flight.
	buffers sync.Pool
}

var (
	_ engine.Model    = (*Model)(nil)
	_ engine.Embedder = (*Model)(nil)
	_ engine.Placed   = (*Model)(nil)
)

// otherOutput is a declared output edgeinfer does not read: its index and
// shape, whose dynamic axes are the batch (first) and the sequence
// (second), and its float type.
type otherOutput struct {
	index int
	dims  []int64
	info  ort.Info
}

// shape is the output's shape for a batch of rows × cols.
func (o otherOutput) shape(rows, cols int) onnx.Shape {
	shape := make(onnx.Shape, len(o.dims))
	for i, d := range o.dims {
		shape[i] = d
		if d < 0 {
			shape[i] = []int64{int64(rows), int64(cols)}[i]
		}
	}
	return shape
}

// batchBuffers back one batch's tensors, reused across batches.
type batchBuffers struct {
	ids, mask  []int64
	embeddings ort.Floats
	others     []ort.Floats // by position in Model.others
}

func newModel(spec engine.ModelSpec, sess *ort.Session, tok tokenizer, cfg, tokCfg onnxdir.TextConfig) (*Model, error) {
	out := sess.OutputIndex("sentence_embedding")
	if out < 0 {
		return nil, fmt.Errorf("%s declares no sentence_embedding output (has %v)", sess.Path(), sess.Outputs())
	}
	for _, name := range []string{"input_ids", "attention_mask"} {
		if sess.InputIndex(name) < 0 {
			return nil, fmt.Errorf("%s declares no %s input", sess.Path(), name)
		}
	}
	if len(sess.Inputs()) != 2 {
		return nil, fmt.Errorf("%s declares inputs %v; edgeinfer feeds input_ids and attention_mask", sess.Path(), sess.Inputs())
	}
	emb := sess.Outputs()[out]
	if err := ort.CheckFloat(sess.Path(), emb); err != nil {
		return nil, err
	}
	if cfg.HiddenSize <= 0 {
		return nil, fmt.Errorf("config.json has no hidden_size")
	}
	m := &Model{tok: tok, sess: sess, pad: tok.PadID(), width: cfg.HiddenSize, maxTokens: maxTokens, out: out}
	if len(emb.Shape) != 2 {
		return nil, fmt.Errorf("%s: sentence_embedding has shape %v, want [batch, width]", sess.Path(), emb.Shape)
	}
	if emb.Shape[1] > 0 {
		m.width = int(emb.Shape[1])
	}
	for i, info := range sess.Outputs() {
		if i == out {
			continue
		}
		if err := ort.CheckFloat(sess.Path(), info); err != nil {
			return nil, err
		}
		for axis, d := range info.Shape {
			if d < 0 && axis > 1 {
				return nil, fmt.Errorf("%s: output %s has shape %v; edgeinfer sizes only batch and sequence axes", sess.Path(), info.Name, info.Shape)
			}
		}
		m.others = append(m.others, otherOutput{index: i, dims: info.Shape, info: info})
	}
	for _, limit := range []int{cfg.MaxPositionEmbeddings, tokCfg.ModelMaxLength} {
		if limit > 0 && limit < m.maxTokens {
			m.maxTokens = limit
		}
	}
	m.buffers.New = func() any {
		b := &batchBuffers{embeddings: ort.Floats{Type: emb.Type}, others: make([]ort.Floats, len(m.others))}
		for i, o := range m.others {
			b.others[i].Type = o.info.Type
		}
		return b
	}
	m.sched = batch.New(calibrate.TextConfig(spec, sess, batch.TextGPUMaxBatchTokens, m.maxTokens, m.probeBatch), func(ids []int64) int { return len(ids) }, m.runBatch)
	return m, nil
}

// Placement implements engine.Placed.
func (m *Model) Placement() engine.Placement {
	return onnxdir.Placement(m.sess)
}

// Close stops the scheduler and releases the session.
func (m *Model) Close() error {
	m.sched.Close()
	return m.sess.Close()
}

// Embed implements engine.Embedder. The model pools its own way, so
// in.Pooling is ignored and the answer has none.
func (m *Model) Embed(ctx context.Context, in *engine.EmbeddingsInput) (*engine.EmbeddingsOutput, error) {
	seqs := make([][]int64, len(in.Text))
	tokens := 0
	for i, text := range in.Text {
		field := "text"
		if len(in.Text) > 1 {
			field = fmt.Sprintf("text[%d]", i)
		}
		ids, full, truncated, err := m.encode(ctx, text, field)
		if err != nil {
			return nil, err
		}
		if truncated && !in.TruncateInputs {
			return nil, engine.OverTokenLimit(field, full, m.maxTokens)
		}
		seqs[i] = ids
		tokens += len(ids)
	}
	vecs, err := m.sched.Submit(ctx, seqs)
	if err != nil {
		return nil, err
	}
	return &engine.EmbeddingsOutput{Shape: [2]int{len(vecs), m.width}, Data: vecs, PromptTokens: tokens}, nil
}

// encode tokenizes under the shared worker bound.
func (m *Model) encode(ctx context.Context, text, field string) ([]int64, int, bool, error) {
	if !utf8.ValidString(text) {
		return nil, 0, false, engine.BadInput(field, "must be valid UTF-8 text")
	}
	var ids []int64
	var full int
	var truncated bool
	var err error
	if werr := batch.Prepare(ctx, func() { ids, full, truncated, err = m.tok.Encode(text, m.maxTokens) }); werr != nil {
		return nil, 0, false, werr
	}
	if err != nil {
		return nil, 0, false, engine.BadInput(field, "could not be tokenized: %v", err)
	}
	if len(ids) == 0 {
		return nil, 0, false, engine.BadInput(field, "has no tokens")
	}
	return ids, full, truncated, nil
}

// runBatch pads a batch on the right to its longest sequence, as the
// tokenizer's padding_side says (the side does not change the answer: RoPE
// scores and the sliding window depend only on how far apart two tokens
// are, and padded keys are masked), runs the model and returns
// sentence_embedding's rows. The scheduler's instances may call it
// concurrently.
func (m *Model) runBatch(seqs [][]int64) ([][]float32, error) {
	buf := m.buffers.Get().(*batchBuffers)
	defer m.buffers.Put(buf)
	var cols int
	buf.ids, buf.mask, cols = onnxdir.PadRight(seqs, m.pad, buf.ids, buf.mask)
	rows := len(seqs)
	shape := onnx.NewShape(int64(rows), int64(cols))
	values := map[string]onnx.Value{}
	for name, data := range map[string][]int64{"input_ids": buf.ids, "attention_mask": buf.mask} {
		t, err := onnx.NewTensor(shape, data)
		if err != nil {
			return nil, err
		}
		defer t.Destroy()
		values[name] = t
	}
	inputs, err := m.sess.BindInputs(values)
	if err != nil {
		return nil, err
	}
	// Every output is bound to a reused buffer: the run writes
	// last_hidden_state whether or not it is read, and onnxruntime_go
	// cannot wrap a float16 tensor the runtime allocated.
	outputs := make([]onnx.Value, len(m.sess.Outputs()))
	buf.embeddings.Resize(rows * m.width)
	emb, err := buf.embeddings.Output(onnx.NewShape(int64(rows), int64(m.width)))
	if err != nil {
		return nil, err
	}
	defer emb.Destroy()
	outputs[m.out] = emb
	for i, o := range m.others {
		shape := o.shape(rows, cols)
		buf.others[i].Resize(int(shape.FlattenedSize()))
		v, err := buf.others[i].Output(shape)
		if err != nil {
			return nil, err
		}
		defer v.Destroy()
		outputs[o.index] = v
	}
	if err := m.sess.Run(inputs, outputs); err != nil {
		return nil, err
	}
	buf.embeddings.Decode(0, rows*m.width)
	vecs := make([][]float32, rows)
	for r := range rows {
		vecs[r] = unit(buf.embeddings.Data[r*m.width : (r+1)*m.width])
	}
	return vecs, nil
}

// unit returns v scaled to length 1 (a zero vector stays zero). The graph
// normalizes already; doing it again in float64 costs one pass over 768
// values and keeps the answers unit vectors where the graph's are not
// quite: a float16 export's rows are off by up to a few 1e-4, and an export
// without the final Normalize would be off entirely.
func unit(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	norm := math.Sqrt(sum)
	if norm == 0 {
		norm = 1
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / norm)
	}
	return out
}
