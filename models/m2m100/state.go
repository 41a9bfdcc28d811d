package m2m100

import (
	"errors"
	"fmt"
	"slices"
)

// decodeState is one cohort's decoder: it turns the rows' sequences into
// next-token logits, keeping whatever it needs between steps.
type decodeState interface {
	// next returns the next-token logits of every row, valid until the
	// following call. All sequences have one length, one more than at the
	// previous call.
	next(seqs [][]int64) ([][]float32, error)
	// keep makes row i continue row src[i] of the last call. regroup says
	// rows moved between requests, so per-request data (encoder states,
	// cross-attention keys) must follow; otherwise only the decoder's own
	// cache does (beams of one request share their encoder rows).
	keep(src []int, regroup bool)
}

// encoderRows is the encoder side of a cohort: one row per decoder row.
type encoderRows struct {
	seq    int       // padded source length
	mask   []int64   // rows × seq
	states []float32 // rows × seq × d_model
}

func (e *encoderRows) gather(src []int, dModel int) {
	e.mask = gatherRows(nil, e.mask, e.seq, src)
	e.states = gatherRows(nil, e.states, e.seq*dModel, src)
}

// cachedState decodes with the key/value cache: the first call runs the
// whole prefix without cache, later calls feed one token per row and the
// previous step's presents as the past.
type cachedState struct {
	d   *decoderFiles
	ws  *workspace
	enc encoderRows
	// past holds, per layer, the self-attention key and value caches
	// [rows, heads, pastLen, head_dim]; spare is the other buffer of each
	// pair, which the next step's presents (or a reorder) are written to.
	past, spare [][2][]float32
	pastLen     int
	// cross holds the cross-attention key and value per layer
	// [rows, heads, encoder seq, head_dim], computed by the first step.
	cross [][2][]float32
}

func newCachedState(d *decoderFiles, ws *workspace, enc encoderRows) *cachedState {
	return &cachedState{d: d, ws: ws, enc: enc,
		past: make([][2][]float32, d.layers), spare: make([][2][]float32, d.layers), cross: make([][2][]float32, d.layers)}
}

func (s *cachedState) next(seqs [][]int64) ([][]float32, error) {
	rows := len(seqs)
	d := s.d
	steps := len(seqs[0]) - s.pastLen // the whole prefix first, then one token
	if steps <= 0 || (s.pastLen > 0 && steps != 1) {
		return nil, fmt.Errorf("m2m100: decoder cache holds %d positions, rows have %d tokens", s.pastLen, len(seqs[0]))
	}
	ids := make([]int64, 0, rows*steps)
	for _, seq := range seqs {
		ids = append(ids, seq[s.pastLen:]...)
	}
	sess := d.merged
	if sess == nil {
		sess = d.withPast
		if s.pastLen == 0 {
			sess = d.first
		}
	}
	R, H, P, D, E := int64(rows), int64(d.heads), int64(s.pastLen), int64(d.headDim), int64(s.enc.seq)
	b := newBinding(sess)
	addTensor(b, "input_ids", ids, R, int64(steps))
	addTensor(b, "encoder_attention_mask", s.enc.mask, R, E)
	addTensor(b, "encoder_hidden_states", s.enc.states, R, E, int64(d.dModel))
	addTensor(b, "use_cache_branch", []bool{s.pastLen > 0}, 1)
	width := rows * d.heads * (s.pastLen + steps) * d.headDim
	crossWidth := rows * d.heads * s.enc.seq * d.headDim
	for l := range d.layers {
		for kv := range 2 {
			// The first step has no past: a zero-length one for the merged file.
			addTensor(b, cacheName("past_key_values", l, kv), s.past[l][kv], R, H, P, D)
			if s.pastLen > 0 {
				addTensor(b, cacheName("past_key_values", l, 2+kv), s.cross[l][kv], R, H, E, D)
			} else {
				addTensor(b, cacheName("past_key_values", l, 2+kv), []float32{}, R, H, 0, D)
			}
			s.spare[l][kv] = grow(s.spare[l][kv], width)
			b.output(cacheName("present", l, kv), s.spare[l][kv], R, H, P+int64(steps), D)
			if s.pastLen == 0 {
				s.cross[l][kv] = grow(s.cross[l][kv], crossWidth)
				b.output(cacheName("present", l, 2+kv), s.cross[l][kv], R, H, E, D)
			} else {
				// The merged file's cached branch copies the cross keys out again.
				b.output(cacheName("present", l, 2+kv), s.ws.discardBuf(l, 2+kv, crossWidth), R, H, E, D)
			}
		}
	}
	s.ws.logits = grow(s.ws.logits, rows*steps*d.vocab)
	b.output("logits", s.ws.logits, R, int64(steps), int64(d.vocab))
	if err := b.run(); err != nil {
		return nil, err
	}
	s.past, s.spare = s.spare, s.past
	s.pastLen += steps
	return lastLogits(s.ws.logits, rows, steps, d.vocab), nil
}

func (s *cachedState) keep(src []int, regroup bool) {
	rows := len(s.enc.mask) / s.enc.seq
	if len(src) == rows && isIdentity(src) {
		return
	}
	regroup = regroup || len(src) != rows
	d := s.d
	width := d.heads * s.pastLen * d.headDim
	for l := range d.layers {
		for kv := range 2 {
			s.spare[l][kv] = gatherRows(s.spare[l][kv], s.past[l][kv], width, src)
			if regroup {
				s.cross[l][kv] = gatherRows(nil, s.cross[l][kv], d.heads*s.enc.seq*d.headDim, src)
			}
		}
	}
	s.past, s.spare = s.spare, s.past
	if regroup {
		s.enc.gather(src, d.dModel)
	}
}

func isIdentity(src []int) bool {
	for i, r := range src {
		if r != i {
			return false
		}
	}
	return true
}

// recomputeState decodes without a cache: every call runs the decoder over
// the rows' whole sequences and keeps only the last position's logits. It
// exists to check the cache against and to measure what the cache saves.
type recomputeState struct {
	d   *decoderFiles
	ws  *workspace
	enc encoderRows
}

func (s *recomputeState) next(seqs [][]int64) ([][]float32, error) {
	rows, steps := len(seqs), len(seqs[0])
	d := s.d
	sess := d.first
	if sess == nil {
		sess = d.merged
	}
	if sess == nil {
		return nil, errors.New("m2m100: recomputation needs decoder_model.onnx or decoder_model_merged.onnx")
	}
	R, H, D, E, T := int64(rows), int64(d.heads), int64(d.headDim), int64(s.enc.seq), int64(steps)
	b := newBinding(sess)
	addTensor(b, "input_ids", slices.Concat(seqs...), R, T)
	addTensor(b, "encoder_attention_mask", s.enc.mask, R, E)
	addTensor(b, "encoder_hidden_states", s.enc.states, R, E, int64(d.dModel))
	addTensor(b, "use_cache_branch", []bool{false}, 1)
	selfWidth, crossWidth := rows*d.heads*steps*d.headDim, rows*d.heads*s.enc.seq*d.headDim
	for l := range d.layers {
		for kind := range 4 {
			addTensor(b, cacheName("past_key_values", l, kind), []float32{}, R, H, 0, D)
			if kind < 2 {
				b.output(cacheName("present", l, kind), s.ws.discardBuf(l, kind, selfWidth), R, H, T, D)
			} else {
				b.output(cacheName("present", l, kind), s.ws.discardBuf(l, kind, crossWidth), R, H, E, D)
			}
		}
	}
	s.ws.logits = grow(s.ws.logits, rows*steps*d.vocab)
	b.output("logits", s.ws.logits, R, T, int64(d.vocab))
	if err := b.run(); err != nil {
		return nil, err
	}
	return lastLogits(s.ws.logits, rows, steps, d.vocab), nil
}

func (s *recomputeState) keep(src []int, regroup bool) {
	rows := len(s.enc.mask) / s.enc.seq
	if regroup || len(src) != rows {
		s.enc.gather(src, s.d.dModel)
	}
}
