package embeddinggemma

import (
	"context"
	"fmt"
	"math"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// Model is a loaded EmbeddingGemma model.
type Model struct {
	id    string
	tok   tokenizer
	sess  *ort.Session
	pad   int64
	width int // sentence_embedding's width (768)
	// hidden is last_hidden_state's width, an output every run produces
	// even though only sentence_embedding is read.
	hidden    int
	maxTokens int
	sched     *batch.Scheduler[[]int64, []float32]
	// out indexes sentence_embedding and states last_hidden_state among
	// the outputs.
	out, states int
	// buffers holds *batchBuffers, one per batch in flight.
	buffers sync.Pool
}

var (
	_ engine.Model    = (*Model)(nil)
	_ engine.Embedder = (*Model)(nil)
	_ engine.Placed   = (*Model)(nil)
)

// batchBuffers back one batch's tensors, reused across batches.
type batchBuffers struct {
	ids, mask  []int64
	embeddings ort.Floats
	states     ort.Floats
}

func newModel(spec engine.ModelSpec, sess *ort.Session, tok tokenizer, cfg, tokCfg modelConfig) (*Model, error) {
	out, states := sess.OutputIndex("sentence_embedding"), sess.OutputIndex("last_hidden_state")
	if out < 0 {
		return nil, fmt.Errorf("%s declares no sentence_embedding output (has %v)", sess.Path(), sess.Outputs())
	}
	if len(sess.Outputs()) > 2 || (len(sess.Outputs()) == 2 && states < 0) {
		return nil, fmt.Errorf("%s declares outputs %v; edgeinfer expects sentence_embedding and last_hidden_state", sess.Path(), sess.Outputs())
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
	m := &Model{id: spec.Entry.ID, tok: tok, sess: sess, pad: tok.PadID(), width: cfg.HiddenSize, hidden: cfg.HiddenSize,
		maxTokens: maxTokens, out: out, states: states}
	if n := len(emb.Shape); n == 2 && emb.Shape[1] > 0 {
		m.width = int(emb.Shape[1])
	}
	statesType := emb.Type
	if states >= 0 {
		info := sess.Outputs()[states]
		if err := ort.CheckFloat(sess.Path(), info); err != nil {
			return nil, err
		}
		statesType = info.Type
		if len(info.Shape) == 3 && info.Shape[2] > 0 {
			m.hidden = int(info.Shape[2])
		}
	}
	for _, limit := range []int{cfg.MaxPositionEmbeddings, tokCfg.ModelMaxLength} {
		if limit > 0 && limit < m.maxTokens {
			m.maxTokens = limit
		}
	}
	m.buffers.New = func() any {
		return &batchBuffers{embeddings: ort.Floats{Type: emb.Type}, states: ort.Floats{Type: statesType}}
	}
	m.sched = batch.New(schedulerConfig(spec, sess.OnGPU()), func(ids []int64) int { return len(ids) }, m.runBatch)
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
			return nil, engine.TooLarge(field, "%d tokens is over the model's limit of %d (send truncate_inputs: true to truncate)", full, m.maxTokens)
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
	select {
	case tokenizeWorkers <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, false, ctx.Err()
	}
	defer func() { <-tokenizeWorkers }()
	ids, full, truncated, err := m.tok.Encode(text, m.maxTokens)
	if err != nil {
		return nil, 0, false, engine.BadInput(field, "could not be tokenized: %v", err)
	}
	if len(ids) == 0 {
		return nil, 0, false, engine.BadInput(field, "has no tokens")
	}
	return ids, full, truncated, nil
}

// grow returns buf resized to n, reallocating only when it is too small.
func grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

// runBatch pads a batch on the right to its longest sequence, as the
// tokenizer's padding_side says (the side does not change the answer: RoPE
// scores and the sliding window depend only on how far apart two tokens
// are, and padded keys are masked), runs the model and returns
// sentence_embedding's rows. The scheduler's instances may call it
// concurrently.
func (m *Model) runBatch(seqs [][]int64) ([][]float32, error) {
	rows, cols := len(seqs), 0
	for _, s := range seqs {
		cols = max(cols, len(s))
	}
	n := rows * cols
	buf := m.buffers.Get().(*batchBuffers)
	defer m.buffers.Put(buf)
	buf.ids, buf.mask = grow(buf.ids, n), grow(buf.mask, n)
	clear(buf.mask)
	for r, s := range seqs {
		row := buf.ids[r*cols : (r+1)*cols]
		copy(row, s)
		for c := len(s); c < cols; c++ {
			row[c] = m.pad
		}
		for c := range s {
			buf.mask[r*cols+c] = 1
		}
	}
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
	// Both outputs are bound to reused buffers: the run writes
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
	if m.states >= 0 {
		buf.states.Resize(n * m.hidden)
		st, err := buf.states.Output(onnx.NewShape(int64(rows), int64(cols), int64(m.hidden)))
		if err != nil {
			return nil, err
		}
		defer st.Destroy()
		outputs[m.states] = st
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
