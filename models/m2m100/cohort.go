package m2m100

import (
	"fmt"

	"github.com/edgeinfer/edgeinfer/engine/batch"
)

// job is one tokenized translation waiting for the model.
type job struct {
	src []int64 // [__src__] pieces… </s>
	tgt int64   // the target language token, forced after the decoder start
}

// cohortRequest is a request decoding in a cohort.
type cohortRequest struct {
	index  int // in the batch the cohort started with
	search searcher
	rows   int // decoder rows it holds
}

// cohort is the requests that started together: one encoder run, then one
// decoder call per step for all their rows (a request has one row, or one
// per beam). Rows of one decoder call must have decoded equally many
// tokens, since the exports take no decoder attention mask; that is why
// requests join a cohort only when it starts.
type cohort struct {
	m     *Model
	state decodeState
	reqs  []*cohortRequest // in row order
}

// startCohort runs the encoder over the batch and sets up its decoding.
func (m *Model) startCohort(jobs []job) (batch.Cohort[hypothesis], error) {
	enc, err := m.encode(jobs)
	if err != nil {
		return nil, err
	}
	c := &cohort{m: m}
	if m.recompute {
		c.state = &recomputeState{d: m.dec, ws: &m.ws, enc: enc}
	} else {
		c.state = newCachedState(m.dec, &m.ws, enc)
	}
	for i, j := range jobs {
		c.reqs = append(c.reqs, &cohortRequest{index: i, search: newSearcher(m.search, []int64{m.decoderStart, j.tgt}), rows: 1})
	}
	m.stats.Cohorts.Add(1)
	m.stats.Requests.Add(int64(len(jobs)))
	return c, nil
}

// encode pads the sources to the longest and runs the encoder once.
func (m *Model) encode(jobs []job) (encoderRows, error) {
	seq := 0
	for _, j := range jobs {
		seq = max(seq, len(j.src))
	}
	rows := len(jobs)
	ids := make([]int64, rows*seq)
	mask := make([]int64, rows*seq)
	for r, j := range jobs {
		for c := range seq {
			ids[r*seq+c] = m.pad
		}
		copy(ids[r*seq:], j.src)
		for c := range j.src {
			mask[r*seq+c] = 1
		}
	}
	states := make([]float32, rows*seq*m.dec.dModel)
	b := newBinding(m.enc)
	addTensor(b, "input_ids", ids, int64(rows), int64(seq))
	addTensor(b, "attention_mask", mask, int64(rows), int64(seq))
	b.output("last_hidden_state", states, int64(rows), int64(seq), int64(m.dec.dModel))
	if err := b.run(); err != nil {
		return encoderRows{}, err
	}
	return encoderRows{seq: seq, mask: mask, states: states}, nil
}

// Step implements batch.Cohort: one decoder call for every row, then each
// request's search picks its next rows; finished requests leave.
func (c *cohort) Step() (map[int]hypothesis, error) {
	var seqs [][]int64
	for _, r := range c.reqs {
		seqs = append(seqs, r.search.sequences()...)
	}
	logits, err := c.state.next(seqs)
	if err != nil {
		return nil, err
	}
	if len(logits) != len(seqs) {
		return nil, fmt.Errorf("m2m100: %d rows of logits for %d sequences", len(logits), len(seqs))
	}
	sums := summarizeRows(logits, c.m.search.candidates())
	done := map[int]hypothesis{}
	var src []int
	kept := c.reqs[:0]
	regroup := false
	off := 0
	for _, r := range c.reqs {
		n := r.rows
		parents, finished := r.search.advance(logits[off:off+n], sums[off:off+n])
		if finished {
			done[r.index] = r.search.result()
		} else {
			// The request's rows stay where they were only if no earlier
			// request left and its row count is unchanged.
			if len(parents) != n || len(src) != off {
				regroup = true
			}
			for _, p := range parents {
				src = append(src, off+p)
			}
			r.rows = len(parents)
			kept = append(kept, r)
		}
		off += n
	}
	clear(c.reqs[len(kept):])
	c.reqs = kept
	c.m.stats.Steps.Add(1)
	c.m.stats.DecoderRows.Add(int64(len(seqs)))
	if len(c.reqs) > 0 {
		c.state.keep(src, regroup)
	}
	return done, nil
}

// Drop implements batch.Cohort.
func (c *cohort) Drop(indices []int) {
	gone := map[int]bool{}
	for _, i := range indices {
		gone[i] = true
	}
	var src []int
	kept := c.reqs[:0]
	off := 0
	for _, r := range c.reqs {
		if !gone[r.index] {
			for k := range r.rows {
				src = append(src, off+k)
			}
			kept = append(kept, r)
		}
		off += r.rows
	}
	clear(c.reqs[len(kept):])
	c.reqs = kept
	if len(c.reqs) > 0 {
		c.state.keep(src, true)
	}
}

// Close implements batch.Cohort; the buffers go with the cohort.
func (c *cohort) Close() { c.state = nil }
