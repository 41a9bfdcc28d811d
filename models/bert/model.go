package bert

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
	"github.com/edgeinfer/edgeinfer/tokenize"
)

// sequence is one tokenized text waiting for the model.
type sequence struct {
	ids []int64
	cls bool // CLS pooling instead of mean
}

// Model is a loaded BERT embedding model.
type Model struct {
	id     string
	tok    *tokenize.BERT
	sess   *ort.Session
	hidden int
	// maxTokens counts [CLS] and [SEP].
	maxTokens int
	sched     *batch.Scheduler[sequence, []float32]
	out       int // index of last_hidden_state among the outputs
	// buffers holds *batchBuffers: on a GPU two batches are in flight (one
	// on the device while the next is padded and the last pooled), and
	// each needs its own memory.
	buffers sync.Pool
}

// The engine reaches a loaded model through these interfaces; the build
// fails if a method goes missing.
var (
	_ engine.Model    = (*Model)(nil)
	_ engine.Embedder = (*Model)(nil)
	_ engine.Placed   = (*Model)(nil)
)

// batchBuffers back one batch's tensors, reused across batches.
type batchBuffers struct {
	ids, mask, types []int64
	states           ort.Floats // last_hidden_state, float32 or float16
}

func newModel(spec engine.ModelSpec, sess *ort.Session, tok *tokenize.BERT, cfg, tokCfg modelConfig) (*Model, error) {
	out := sess.OutputIndex("last_hidden_state")
	if out < 0 {
		return nil, fmt.Errorf("%s declares no last_hidden_state output (has %v)", sess.Path(), sess.Outputs())
	}
	states := sess.Outputs()[out]
	if err := ort.CheckFloat(sess.Path(), states); err != nil {
		return nil, err
	}
	for _, name := range []string{"input_ids", "attention_mask"} {
		if sess.InputIndex(name) < 0 {
			return nil, fmt.Errorf("%s declares no %s input", sess.Path(), name)
		}
	}
	if cfg.HiddenSize <= 0 {
		return nil, fmt.Errorf("config.json has no hidden_size")
	}
	maxTokens := defaultMaxTokens
	for _, limit := range []int{cfg.MaxPositionEmbeddings, tokCfg.ModelMaxLength} {
		if limit > 0 && limit < maxTokens {
			maxTokens = limit
		}
	}
	m := &Model{id: spec.Entry.ID, tok: tok, sess: sess, hidden: cfg.HiddenSize, maxTokens: maxTokens, out: out}
	m.buffers.New = func() any { return &batchBuffers{states: ort.Floats{Type: states.Type}} }
	m.sched = batch.New(schedulerConfig(spec, sess.OnGPU()), func(s sequence) int { return len(s.ids) }, m.runBatch)
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

// Embed implements engine.Embedder.
func (m *Model) Embed(ctx context.Context, in *engine.EmbeddingsInput) (*engine.EmbeddingsOutput, error) {
	seqs := make([]sequence, len(in.Text))
	tokens := 0
	for i, text := range in.Text {
		ids, full, truncated, err := m.encode(ctx, text)
		if err != nil {
			return nil, err
		}
		if truncated && !in.TruncateInputs {
			field := "text"
			if len(in.Text) > 1 {
				field = fmt.Sprintf("text[%d]", i)
			}
			return nil, engine.TooLarge(field, "%d tokens is over the model's limit of %d (send truncate_inputs: true to truncate)", full, m.maxTokens)
		}
		seqs[i] = sequence{ids: ids, cls: in.Pooling == "cls"}
		tokens += len(ids)
	}
	vecs, err := m.sched.Submit(ctx, seqs)
	if err != nil {
		return nil, err
	}
	return &engine.EmbeddingsOutput{Shape: [2]int{len(vecs), m.hidden}, Data: vecs, Pooling: in.Pooling, PromptTokens: tokens}, nil
}

// encode tokenizes under the shared worker bound.
func (m *Model) encode(ctx context.Context, text string) ([]int64, int, bool, error) {
	select {
	case tokenizeWorkers <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, false, ctx.Err()
	}
	defer func() { <-tokenizeWorkers }()
	ids, full, truncated, err := m.tok.Encode(text, m.maxTokens)
	if err != nil {
		return nil, 0, false, engine.BadInput("text", "could not be tokenized: %v", err)
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

// runBatch pads a batch to its longest sequence, runs the model, and pools
// each row. The scheduler's instances may call it concurrently.
func (m *Model) runBatch(seqs []sequence) ([][]float32, error) {
	rows, cols := len(seqs), 0
	for _, s := range seqs {
		cols = max(cols, len(s.ids))
	}
	n := rows * cols
	buf := m.buffers.Get().(*batchBuffers)
	defer m.buffers.Put(buf)
	buf.ids, buf.mask, buf.types = grow(buf.ids, n), grow(buf.mask, n), grow(buf.types, n)
	clear(buf.ids)
	clear(buf.mask)
	clear(buf.types)
	for r, s := range seqs {
		copy(buf.ids[r*cols:], s.ids)
		for c := range s.ids {
			buf.mask[r*cols+c] = 1
		}
	}
	shape := onnx.NewShape(int64(rows), int64(cols))
	values := map[string]onnx.Value{}
	for name, data := range map[string][]int64{"input_ids": buf.ids, "attention_mask": buf.mask, "token_type_ids": buf.types} {
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
	buf.states.Resize(n * m.hidden)
	hidden, err := buf.states.Output(onnx.NewShape(int64(rows), int64(cols), int64(m.hidden)))
	if err != nil {
		return nil, err
	}
	defer hidden.Destroy()
	outputs := make([]onnx.Value, len(m.sess.Outputs()))
	outputs[m.out] = hidden
	if err := m.sess.Run(inputs, outputs); err != nil {
		return nil, err
	}
	for i, v := range outputs {
		if i != m.out && v != nil {
			defer v.Destroy() // outputs we did not ask for, allocated by ORT
		}
	}
	vecs := make([][]float32, rows)
	for r, s := range seqs {
		tokens := len(s.ids)
		if s.cls {
			tokens = 1
		}
		row := r * cols * m.hidden
		buf.states.Decode(row, row+tokens*m.hidden) // only the states pooling reads
		vecs[r] = pool(buf.states.Data[row:row+cols*m.hidden], len(s.ids), m.hidden, s.cls)
	}
	return vecs, nil
}

// pool reduces one row of hidden states [cols, hidden] to a unit vector:
// the [CLS] state, or the mean over the row's real tokens. Sums are in
// float64 so a vector does not depend on how its batch was padded.
func pool(states []float32, tokens, hidden int, cls bool) []float32 {
	acc := make([]float64, hidden)
	if cls {
		tokens = 1
	}
	for t := range tokens {
		for h, v := range states[t*hidden : (t+1)*hidden] {
			acc[h] += float64(v)
		}
	}
	var norm float64
	for h := range acc {
		acc[h] /= float64(tokens)
		norm += acc[h] * acc[h]
	}
	norm = math.Sqrt(norm)
	if norm == 0 {
		norm = 1
	}
	out := make([]float32, hidden)
	for h := range acc {
		out[h] = float32(acc[h] / norm)
	}
	return out
}
