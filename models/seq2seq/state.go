package seq2seq

import (
	"errors"
	"fmt"
	"slices"
)

// State is one cohort's decoder: it turns the rows' sequences into
// next-token logits, keeping whatever it needs between steps.
type State interface {
	// Next returns the next-token logits of every row, valid until the
	// following call. All sequences have one length, one more than at the
	// previous call.
	Next(seqs [][]int64) ([][]float32, error)
	// Keep makes row i continue row src[i] of the last call. regroup says
	// rows moved between requests, so per-request data (encoder states,
	// cross-attention keys) must follow; otherwise only the decoder's own
	// cache does (beams of one request share their encoder rows).
	Keep(src []int, regroup bool)
	// Capture asks later calls to record the cross-attention weights of
	// the heads named (when the decoder outputs them).
	Capture(heads []Head)
	// CrossAttention returns row's captured weights: one entry per decoded
	// position, each [len(heads) × encoder seq]; nil without capture.
	CrossAttention(row int) [][]float32
	// Logits returns the logits at position pos of row's tokens fed to the
	// last Next (the whole prefix on a cached decoder's first call, one
	// token later), valid until the following call.
	Logits(row, pos int) []float32
}

// Joiner is a State that can take over another state's rows once both
// have decoded equally many positions: a cache of one length needs no
// decoder attention mask, so the two cohorts' rows then step in one
// decoder call.
type Joiner interface {
	State
	// Len is how many positions every row has decoded (the cache length);
	// 0 before the first call.
	Len() int
	// Join appends other's rows after this state's rows when other decodes
	// with the same decoder, has the same Len above 0 and records no
	// cross-attention; it reports whether it did. other is not used after
	// a join.
	Join(other State) bool
}

// lastRun is the logits buffer of the last Next: [rows, steps, vocab].
type lastRun struct {
	buf          []float32
	steps, vocab int
}

// Logits implements State.
func (l *lastRun) Logits(row, pos int) []float32 {
	if pos < 0 || pos >= l.steps {
		return nil
	}
	off := (row*l.steps + pos) * l.vocab
	if off < 0 || off+l.vocab > len(l.buf) {
		return nil
	}
	return l.buf[off : off+l.vocab]
}

// EncoderRows is the encoder side of a cohort: one row per decoder row.
type EncoderRows struct {
	Seq    int       // encoder positions (the padded source length)
	Mask   []int64   // rows × Seq; nil for a decoder without encoder_attention_mask
	States []float32 // rows × Seq × d_model
}

func (e *EncoderRows) rows(dModel int) int { return len(e.States) / (e.Seq * dModel) }

// Select returns a copy of the rows named, in that order.
func (e EncoderRows) Select(rows []int, dModel int) EncoderRows {
	e.gather(rows, dModel)
	return e
}

func (e *EncoderRows) gather(src []int, dModel int) {
	if e.Mask != nil {
		e.Mask = gatherRows(nil, e.Mask, e.Seq, src)
	}
	e.States = gatherRows(nil, e.States, e.Seq*dModel, src)
}

// bindEncoder binds the encoder side of a decoder run.
func (e *EncoderRows) bindEncoder(b *Binding, rows, dModel int) {
	R, E := int64(rows), int64(e.Seq)
	if e.Mask != nil {
		AddTensor(b, "encoder_attention_mask", e.Mask, R, E)
	}
	AddTensor(b, "encoder_hidden_states", e.States, R, E, int64(dModel))
}

// CachedState decodes with the key/value cache: the first call runs the
// whole prefix without cache, later calls feed one token per row and the
// previous step's presents as the past.
type CachedState struct {
	d   *Decoder
	ws  *Workspace
	enc EncoderRows
	// past holds, per layer, the self-attention key and value caches
	// [rows, heads, pastLen, head_dim]; spare is the other buffer of each
	// pair, which the next step's presents (or a reorder) are written to.
	past, spare [][2][]float32
	pastLen     int
	// cross holds the cross-attention key and value per layer
	// [rows, heads, encoder seq, head_dim], computed by the first step.
	cross [][2][]float32
	attentionLog
	lastRun
}

// CachedState is a Joiner; the build fails if a method goes missing.
var _ Joiner = (*CachedState)(nil)

// NewCachedState starts cached decoding over the encoder rows.
func NewCachedState(d *Decoder, ws *Workspace, enc EncoderRows) *CachedState {
	return &CachedState{d: d, ws: ws, enc: enc,
		past: make([][2][]float32, d.Layers), spare: make([][2][]float32, d.Layers), cross: make([][2][]float32, d.Layers)}
}

// Next implements State.
func (s *CachedState) Next(seqs [][]int64) ([][]float32, error) {
	rows := len(seqs)
	d := s.d
	steps := len(seqs[0]) - s.pastLen // the whole prefix first, then one token
	if steps <= 0 || (s.pastLen > 0 && steps != 1) {
		return nil, fmt.Errorf("seq2seq: decoder cache holds %d positions, rows have %d tokens", s.pastLen, len(seqs[0]))
	}
	ids := make([]int64, 0, rows*steps)
	for _, seq := range seqs {
		ids = append(ids, seq[s.pastLen:]...)
	}
	sess := d.Merged
	if sess == nil {
		sess = d.WithPast
		if s.pastLen == 0 {
			sess = d.First
		}
	}
	R, H, P, D, E := int64(rows), int64(d.Heads), int64(s.pastLen), int64(d.HeadDim), int64(s.enc.Seq)
	b := NewBinding(sess)
	AddTensor(b, "input_ids", ids, R, int64(steps))
	s.enc.bindEncoder(b, rows, d.DModel)
	AddTensor(b, "use_cache_branch", []bool{s.pastLen > 0}, 1)
	width := rows * d.Heads * (s.pastLen + steps) * d.HeadDim
	crossWidth := rows * d.Heads * s.enc.Seq * d.HeadDim
	for l := range d.Layers {
		for kv := range 2 {
			// The first step has no past: a zero-length one for the merged file.
			AddTensor(b, cacheName("past_key_values", l, kv), s.past[l][kv], R, H, P, D)
			if s.pastLen > 0 {
				AddTensor(b, cacheName("past_key_values", l, 2+kv), s.cross[l][kv], R, H, E, D)
			} else {
				AddTensor(b, cacheName("past_key_values", l, 2+kv), []float32{}, R, H, 0, D)
			}
			s.spare[l][kv] = Grow(s.spare[l][kv], width)
			b.Output(cacheName("present", l, kv), s.spare[l][kv], R, H, P+int64(steps), D)
			if s.pastLen == 0 {
				s.cross[l][kv] = Grow(s.cross[l][kv], crossWidth)
				b.Output(cacheName("present", l, 2+kv), s.cross[l][kv], R, H, E, D)
			}
			// The merged file's cached branch emits empty encoder presents
			// (optimum's merge fills the outputs decoder_with_past lacks with
			// [0, heads, 1, head_dim] constants): left unbound, ORT allocates
			// them, and the cross keys stay those of the first step.
		}
	}
	s.bindAttention(b, s.ws, d, rows, steps, s.enc.Seq)
	s.ws.logits = Grow(s.ws.logits, rows*steps*d.Vocab)
	b.Output("logits", s.ws.logits, R, int64(steps), int64(d.Vocab))
	if err := b.Run(); err != nil {
		return nil, err
	}
	s.record(s.ws, d, rows, steps, s.enc.Seq, false)
	s.lastRun = lastRun{buf: s.ws.logits, steps: steps, vocab: d.Vocab}
	s.past, s.spare = s.spare, s.past
	s.pastLen += steps
	return lastLogits(s.ws.logits, rows, steps, d.Vocab), nil
}

// Len implements Joiner.
func (s *CachedState) Len() int { return s.pastLen }

// Join implements Joiner: the caches, cross-attention keys and encoder
// rows of other follow this state's.
func (s *CachedState) Join(other State) bool {
	o, ok := other.(*CachedState)
	if !ok || o == s || o.d != s.d || s.pastLen == 0 || o.pastLen != s.pastLen || o.enc.Seq != s.enc.Seq ||
		(o.enc.Mask == nil) != (s.enc.Mask == nil) || len(s.heads) > 0 || len(o.heads) > 0 {
		return false
	}
	for l := range s.d.Layers {
		for kv := range 2 {
			s.past[l][kv] = slices.Concat(s.past[l][kv], o.past[l][kv])
			s.cross[l][kv] = slices.Concat(s.cross[l][kv], o.cross[l][kv])
		}
	}
	s.enc.States = slices.Concat(s.enc.States, o.enc.States)
	if s.enc.Mask != nil {
		s.enc.Mask = slices.Concat(s.enc.Mask, o.enc.Mask)
	}
	s.lastRun = lastRun{} // Logits covers the next call's rows only
	return true
}

// Keep implements State.
func (s *CachedState) Keep(src []int, regroup bool) {
	rows := s.enc.rows(s.d.DModel)
	if len(src) == rows && isIdentity(src) {
		return
	}
	regroup = regroup || len(src) != rows
	d := s.d
	width := d.Heads * s.pastLen * d.HeadDim
	for l := range d.Layers {
		for kv := range 2 {
			s.spare[l][kv] = gatherRows(s.spare[l][kv], s.past[l][kv], width, src)
			if regroup {
				s.cross[l][kv] = gatherRows(nil, s.cross[l][kv], d.Heads*s.enc.Seq*d.HeadDim, src)
			}
		}
	}
	s.past, s.spare = s.spare, s.past
	if regroup {
		s.enc.gather(src, d.DModel)
	}
	s.keepAttention(src)
}

func isIdentity(src []int) bool {
	for i, r := range src {
		if r != i {
			return false
		}
	}
	return true
}

// RecomputeState decodes without a cache: every call runs the decoder over
// the rows' whole sequences and keeps only the last position's logits. It
// exists to check the cache against and to measure what the cache saves.
type RecomputeState struct {
	d   *Decoder
	ws  *Workspace
	enc EncoderRows
	attentionLog
	lastRun
}

// NewRecomputeState starts decoding without a cache over the encoder rows.
func NewRecomputeState(d *Decoder, ws *Workspace, enc EncoderRows) *RecomputeState {
	return &RecomputeState{d: d, ws: ws, enc: enc}
}

// Next implements State.
func (s *RecomputeState) Next(seqs [][]int64) ([][]float32, error) {
	rows, steps := len(seqs), len(seqs[0])
	d := s.d
	sess := d.First
	if sess == nil {
		sess = d.Merged
	}
	if sess == nil {
		return nil, errors.New("seq2seq: recomputation needs decoder_model.onnx or decoder_model_merged.onnx")
	}
	R, H, D, E, T := int64(rows), int64(d.Heads), int64(d.HeadDim), int64(s.enc.Seq), int64(steps)
	b := NewBinding(sess)
	AddTensor(b, "input_ids", slices.Concat(seqs...), R, T)
	s.enc.bindEncoder(b, rows, d.DModel)
	AddTensor(b, "use_cache_branch", []bool{false}, 1)
	selfWidth, crossWidth := rows*d.Heads*steps*d.HeadDim, rows*d.Heads*s.enc.Seq*d.HeadDim
	for l := range d.Layers {
		for kind := range 4 {
			AddTensor(b, cacheName("past_key_values", l, kind), []float32{}, R, H, 0, D)
			if kind < 2 {
				b.Output(cacheName("present", l, kind), s.ws.discardBuf(l, kind, selfWidth), R, H, T, D)
			} else {
				b.Output(cacheName("present", l, kind), s.ws.discardBuf(l, kind, crossWidth), R, H, E, D)
			}
		}
	}
	s.bindAttention(b, s.ws, d, rows, steps, s.enc.Seq)
	s.ws.logits = Grow(s.ws.logits, rows*steps*d.Vocab)
	b.Output("logits", s.ws.logits, R, T, int64(d.Vocab))
	if err := b.Run(); err != nil {
		return nil, err
	}
	s.record(s.ws, d, rows, steps, s.enc.Seq, true)
	s.lastRun = lastRun{buf: s.ws.logits, steps: steps, vocab: d.Vocab}
	return lastLogits(s.ws.logits, rows, steps, d.Vocab), nil
}

// Keep implements State.
func (s *RecomputeState) Keep(src []int, regroup bool) {
	if regroup || len(src) != s.enc.rows(s.d.DModel) {
		s.enc.gather(src, s.d.DModel)
	}
	s.keepAttention(src)
}
