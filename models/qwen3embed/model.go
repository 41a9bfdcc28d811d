package qwen3embed

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"unicode/utf8"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// Model is a loaded Qwen3-Embedding model.
type Model struct {
	tok       tokenizer
	sess      *ort.Session
	eot, pad  int64
	hidden    int
	maxTokens int
	// positions says the file declares position_ids (Qdrant's export
	// does not; an export that does is fed 0..S-1 per row).
	positions bool
	sched     *batch.Scheduler[[]int64, []float32]
	out       int // index of last_hidden_state among the outputs
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
	ids, mask, positions []int64
	states               ort.Floats // last_hidden_state
}

func newModel(spec engine.ModelSpec, sess *ort.Session, tok tokenizer, cfg, tokCfg onnxdir.TextConfig) (*Model, error) {
	out := sess.OutputIndex("last_hidden_state")
	if out < 0 && len(sess.Outputs()) == 1 {
		out = 0 // the token states, whatever the export named them
	}
	if out < 0 {
		return nil, fmt.Errorf("%s declares no last_hidden_state output (has %v)", sess.Path(), sess.Outputs())
	}
	states := sess.Outputs()[out]
	if err := ort.CheckFloat(sess.Path(), states); err != nil {
		return nil, err
	}
	if len(states.Shape) != 3 {
		return nil, fmt.Errorf("%s: %s has shape %v, want [batch, sequence, hidden]", sess.Path(), states.Name, states.Shape)
	}
	m := &Model{tok: tok, sess: sess, pad: tok.PadID(), hidden: cfg.HiddenSize, maxTokens: maxTokens, out: out}
	for _, in := range sess.Inputs() {
		switch in.Name {
		case "input_ids", "attention_mask":
		case "position_ids":
			m.positions = true
		default:
			return nil, fmt.Errorf("%s declares inputs %v; edgeinfer feeds input_ids, attention_mask and position_ids (a decoder export with a KV cache is not an embedding export)", sess.Path(), sess.Inputs())
		}
	}
	for _, name := range []string{"input_ids", "attention_mask"} {
		if sess.InputIndex(name) < 0 {
			return nil, fmt.Errorf("%s declares no %s input", sess.Path(), name)
		}
	}
	if d := states.Shape[2]; d > 0 {
		m.hidden = int(d)
	}
	if m.hidden <= 0 {
		return nil, fmt.Errorf("config.json has no hidden_size")
	}
	var ok bool
	if m.eot, ok = tok.TokenID(endOfText); !ok {
		return nil, fmt.Errorf("tokenizer.json has no %s", endOfText)
	}
	for _, limit := range []int{cfg.MaxPositionEmbeddings, tokCfg.ModelMaxLength} {
		if limit > 0 && limit < m.maxTokens {
			m.maxTokens = limit
		}
	}
	m.buffers.New = func() any { return &batchBuffers{states: ort.Floats{Type: states.Type}} }
	m.sched = batch.New(calibrate.TextConfig(spec, sess, gpuMaxBatchTokens, m.maxTokens, m.probeBatch), func(ids []int64) int { return len(ids) }, m.runBatch)
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

// QueryText is how a query is embedded: the model card's
// get_detailed_instruct and the prompt of its sentence-transformers config,
// with no space after "Query:".
func QueryText(instruction, query string) string {
	return "Instruct: " + instruction + "\nQuery:" + query
}

// Embed implements engine.Embedder: the first in.Queries texts are
// queries, embedded with in.Instruction, the rest documents, embedded as
// they are; rows come back in input order. The model pools its own way, so
// in.Pooling is ignored and the answer has none.
func (m *Model) Embed(ctx context.Context, in *engine.EmbeddingsInput) (*engine.EmbeddingsOutput, error) {
	seqs := make([][]int64, len(in.Text))
	tokens := 0
	for i, text := range in.Text {
		field := fmt.Sprintf("documents[%d]", i-in.Queries)
		if i < in.Queries {
			field = fmt.Sprintf("queries[%d]", i)
			text = QueryText(in.Instruction, text)
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
	return &engine.EmbeddingsOutput{Shape: [2]int{len(vecs), m.hidden}, Data: vecs, PromptTokens: tokens}, nil
}

// encode tokenizes under the shared worker bound and makes sure the ids end
// in <|endoftext|>: Qwen3-Embedding's tokenizer.json appends it (since
// Qwen's fix of June 2025), an older one does not and the model card's code
// then appended it by hand, truncating the text to one token less.
func (m *Model) encode(ctx context.Context, text, field string) ([]int64, int, bool, error) {
	if !utf8.ValidString(text) {
		return nil, 0, false, engine.BadInput(field, "must be valid UTF-8 text")
	}
	var ids []int64
	var full int
	var truncated bool
	var err error
	if werr := batch.Prepare(ctx, func() {
		ids, full, truncated, err = m.tok.Encode(text, m.maxTokens)
		if err == nil && (len(ids) == 0 || ids[len(ids)-1] != m.eot) {
			ids, full, truncated, err = m.tok.Encode(text, m.maxTokens-1)
			ids, full = append(ids, m.eot), full+1
		}
	}); werr != nil {
		return nil, 0, false, werr
	}
	if err != nil {
		return nil, 0, false, engine.BadInput(field, "could not be tokenized: %v", err)
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

// runBatch pads a batch on the right to its longest sequence (see the
// package comment for why right), runs the model and pools each row's last
// real token. The scheduler's instances may call it concurrently.
func (m *Model) runBatch(seqs [][]int64) ([][]float32, error) {
	buf := m.buffers.Get().(*batchBuffers)
	defer m.buffers.Put(buf)
	var cols int
	buf.ids, buf.mask, cols = onnxdir.PadRight(seqs, m.pad, buf.ids, buf.mask)
	rows, n := len(seqs), len(seqs)*cols
	inputs := map[string][]int64{"input_ids": buf.ids, "attention_mask": buf.mask}
	if m.positions {
		buf.positions = grow(buf.positions, n)
		for i := range buf.positions {
			buf.positions[i] = int64(i % cols)
		}
		inputs["position_ids"] = buf.positions
	}
	shape := onnx.NewShape(int64(rows), int64(cols))
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
	buf.states.Resize(n * m.hidden)
	states, err := buf.states.Output(onnx.NewShape(int64(rows), int64(cols), int64(m.hidden)))
	if err != nil {
		return nil, err
	}
	defer states.Destroy()
	if err := m.sess.RunInto(bound, m.out, states); err != nil {
		return nil, err
	}
	vecs := make([][]float32, rows)
	for r, s := range seqs {
		last := (r*cols + len(s) - 1) * m.hidden
		buf.states.Decode(last, last+m.hidden) // only the state pooling reads
		vecs[r] = unit(buf.states.Data[last : last+m.hidden])
	}
	return vecs, nil
}

// unit returns v scaled to length 1 in float64 (a zero vector stays zero).
func unit(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	norm := math.Sqrt(sum)
	if norm == 0 {
		norm = 1
	}
	out := slices.Clone(v)
	for i, x := range v {
		out[i] = float32(float64(x) / norm)
	}
	return out
}
