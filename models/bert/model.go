package bert

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// head is what the model file computes: hidden states to pool, or logits.
type head int

const (
	headEmbeddings head = iota // last_hidden_state [batch, seq, hidden]
	headLogits                 // logits [batch, labels]
)

// sequence is one tokenized text (or text pair) waiting for the model.
type sequence struct {
	ids []int64
	cls bool // CLS pooling instead of mean (embeddings only)
}

// Model is a loaded BERT-family encoder: its session, tokenizer and batch
// scheduler. The task types wrapping it (embedder, textClassifier,
// reranker) are what Load returns.
type Model struct {
	id    string
	tok   tokenizer
	sess  *ort.Session
	head  head
	padID int64
	// width is the values per row of the output: the hidden size for
	// last_hidden_state, the number of logits otherwise.
	width int
	// types: the model takes token_type_ids (all zero: one segment).
	types bool
	// maxTokens counts the special tokens.
	maxTokens int
	sched     *batch.Scheduler[sequence, []float32]
	out       int // index of the used output among the outputs
	// buffers holds *batchBuffers: on a GPU two batches are in flight (one
	// on the device while the next is padded and the last pooled), and
	// each needs its own memory.
	buffers sync.Pool
}

// The engine reaches a loaded model through these interfaces; the build
// fails if a method goes missing.
var (
	_ engine.Model          = (*Model)(nil)
	_ engine.Placed         = (*Model)(nil)
	_ engine.Embedder       = embedder{}
	_ engine.TextClassifier = textClassifier{}
	_ engine.Reranker       = reranker{}
)

// batchBuffers back one batch's tensors, reused across batches.
type batchBuffers struct {
	ids, mask, types []int64
	out              ort.Floats // last_hidden_state or logits, float32 or float16
}

// newModel checks the session against the model's task and returns it
// wrapped in the task's type.
func newModel(spec engine.ModelSpec, sess *ort.Session, tok tokenizer, cfg, tokCfg modelConfig) (engine.Model, error) {
	for _, name := range []string{"input_ids", "attention_mask"} {
		if sess.InputIndex(name) < 0 {
			return nil, fmt.Errorf("%s declares no %s input", sess.Path(), name)
		}
	}
	m := &Model{id: spec.Entry.ID, tok: tok, sess: sess, padID: cfg.padID(), types: sess.InputIndex("token_type_ids") >= 0,
		maxTokens: maxTokens(cfg, tokCfg)}
	if m.out = sess.OutputIndex("logits"); m.out >= 0 {
		m.head = headLogits
		m.width = int(sess.Outputs()[m.out].Shape[len(sess.Outputs()[m.out].Shape)-1])
		if m.width <= 0 {
			m.width = len(cfg.ID2Label)
		}
	} else if m.out = sess.OutputIndex("last_hidden_state"); m.out >= 0 {
		m.head, m.width = headEmbeddings, cfg.hidden()
		if m.width <= 0 {
			return nil, fmt.Errorf("config.json has no hidden_size")
		}
	} else {
		return nil, fmt.Errorf("%s declares neither last_hidden_state nor logits (has %v)", sess.Path(), sess.Outputs())
	}
	if err := ort.CheckFloat(sess.Path(), sess.Outputs()[m.out]); err != nil {
		return nil, err
	}

	var model engine.Model
	switch task := spec.Entry.Task; {
	case task == engine.TaskTextEmbeddings:
		if m.head != headEmbeddings {
			return nil, fmt.Errorf("%s outputs logits, not the last_hidden_state an embedding model pools", sess.Path())
		}
		model = embedder{m}
	case task == engine.TaskTextClassification && spec.Entry.Schema == "rerank":
		pairs, ok := tok.(pairTokenizer)
		if !ok {
			return nil, fmt.Errorf("tokenizer.json cannot encode text pairs, which a reranker needs")
		}
		if m.head != headLogits || m.width != 1 {
			return nil, fmt.Errorf("%s must output one logit per pair for a reranker (has %v)", sess.Path(), sess.Outputs())
		}
		model = reranker{m, pairs}
	case task == engine.TaskTextClassification:
		if m.head != headLogits {
			return nil, fmt.Errorf("%s outputs last_hidden_state, not the logits a classifier needs", sess.Path())
		}
		labels, err := labelNames(cfg.ID2Label)
		if err != nil {
			return nil, err
		}
		if len(labels) != m.width || m.width < 2 {
			return nil, fmt.Errorf("config.json names %d labels for %d logits", len(labels), m.width)
		}
		model = textClassifier{m, labels}
	default:
		return nil, fmt.Errorf("the %s backend does not serve %s models", Kind, task)
	}
	outType := sess.Outputs()[m.out].Type
	m.buffers.New = func() any { return &batchBuffers{out: ort.Floats{Type: outType}} }
	m.sched = batch.New(calibrate.TextConfig(spec, sess, batch.TextGPUMaxBatchTokens, m.maxTokens, m.probeBatch), func(s sequence) int { return len(s.ids) }, m.runBatch)
	return model, nil
}

// labelNames returns id2label's names in id order; the ids must be 0..n-1.
func labelNames(id2label map[string]string) ([]string, error) {
	if len(id2label) == 0 {
		return nil, fmt.Errorf("config.json has no id2label")
	}
	ids := make([]int, 0, len(id2label))
	byID := map[int]string{}
	for key, name := range id2label {
		id, err := strconv.Atoi(key)
		if err != nil {
			return nil, fmt.Errorf("config.json id2label has key %q, not a class index", key)
		}
		ids, byID[id] = append(ids, id), name
	}
	sort.Ints(ids)
	labels := make([]string, len(ids))
	for i, id := range ids {
		if id != i {
			return nil, fmt.Errorf("config.json id2label has no class %d", i)
		}
		labels[i] = byID[id]
	}
	return labels, nil
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

// encode tokenizes under the shared worker bound.
func (m *Model) encode(ctx context.Context, field string, tokenize func() ([]int64, int, bool, error)) ([]int64, int, bool, error) {
	var ids []int64
	var full int
	var truncated bool
	var err error
	if werr := batch.Prepare(ctx, func() { ids, full, truncated, err = tokenize() }); werr != nil {
		return nil, 0, false, werr
	}
	if err != nil {
		return nil, 0, false, engine.BadInput(field, "could not be tokenized: %v", err)
	}
	return ids, full, truncated, nil
}

// tooLong is the 413 for an input over the model's limit.
func (m *Model) tooLong(field string, tokens int) error {
	return engine.OverTokenLimit(field, tokens, m.maxTokens)
}

// grow returns buf resized to n, reallocating only when it is too small.
func grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

// runBatch pads a batch to its longest sequence, runs the model, and returns
// each row's result: its pooled unit vector, or its logits. The scheduler's
// instances may call it concurrently.
func (m *Model) runBatch(seqs []sequence) ([][]float32, error) {
	rows, cols := len(seqs), 0
	for _, s := range seqs {
		cols = max(cols, len(s.ids))
	}
	n := rows * cols
	buf := m.buffers.Get().(*batchBuffers)
	defer m.buffers.Put(buf)
	buf.ids, buf.mask, buf.types = grow(buf.ids, n), grow(buf.mask, n), grow(buf.types, n)
	clear(buf.mask)
	clear(buf.types)
	for r, s := range seqs {
		row := buf.ids[r*cols : (r+1)*cols]
		copy(row, s.ids)
		for c := len(s.ids); c < cols; c++ {
			row[c] = m.padID
		}
		for c := range s.ids {
			buf.mask[r*cols+c] = 1
		}
	}
	shape := onnx.NewShape(int64(rows), int64(cols))
	inputs := map[string][]int64{"input_ids": buf.ids, "attention_mask": buf.mask}
	if m.types {
		inputs["token_type_ids"] = buf.types
	}
	values := map[string]onnx.Value{}
	for name, data := range inputs {
		t, err := onnx.NewTensor(shape, data)
		if err != nil {
			return nil, err
		}
		defer t.Destroy()
		values[name] = t
	}
	bound, err := m.sess.BindInputs(values)
	if err != nil {
		return nil, err
	}
	outShape := onnx.NewShape(int64(rows), int64(m.width))
	if m.head == headEmbeddings {
		outShape = onnx.NewShape(int64(rows), int64(cols), int64(m.width))
	}
	buf.out.Resize(int(outShape.FlattenedSize()))
	result, err := buf.out.Output(outShape)
	if err != nil {
		return nil, err
	}
	defer result.Destroy()
	if err := m.sess.RunInto(bound, m.out, result); err != nil {
		return nil, err
	}
	vecs := make([][]float32, rows)
	if m.head == headLogits {
		buf.out.Decode(0, rows*m.width)
		for r := range rows {
			vecs[r] = append([]float32(nil), buf.out.Data[r*m.width:(r+1)*m.width]...)
		}
		return vecs, nil
	}
	for r, s := range seqs {
		tokens := len(s.ids)
		if s.cls {
			tokens = 1
		}
		row := r * cols * m.width
		buf.out.Decode(row, row+tokens*m.width) // only the states pooling reads
		vecs[r] = pool(buf.out.Data[row:row+cols*m.width], len(s.ids), m.width, s.cls)
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
