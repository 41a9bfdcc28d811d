package seq2seq

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/edgeinfer/edgeinfer/engine/batch"
)

// Member is one request decoding in a cohort: a search over its decoder
// rows (one, or one per beam).
type Member[Out any] interface {
	// Sequences are the rows' token sequences so far, decoder prefix first.
	Sequences() [][]int64
	// Candidates is how many best tokens per row Advance reads from the
	// summaries.
	Candidates() int
	// Advance reads one vocabulary-sized row of logits per row, with its
	// summary (Summarize(row, Candidates())), and picks the next rows: row
	// i continues row parents[i], one token longer. It reports done when
	// the search has finished; then the result is set.
	Advance(logits [][]float32, sums []RowSummary) (parents []int, done bool)
	Result() Out
}

// LogitsProcessor is a Member that edits its rows' logits in place before
// they are summarized (token suppression, timestamp rules); it also sees
// each step's logits before anything else does.
type LogitsProcessor interface {
	ProcessLogits(logits [][]float32)
}

// Stats count a model's work since it was loaded.
type Stats struct {
	// Cohorts counts encoder batches; Requests the requests in them;
	// Steps the decoder calls; DecoderRows the rows those calls computed
	// (a step over 10 rows adds 10).
	Cohorts, Requests, Steps, DecoderRows atomic.Int64
}

// cohortMember is a member and the decoder rows it holds.
type cohortMember[Out any] struct {
	index  int // in the batch the cohort started with
	search Member[Out]
	rows   int
}

// Cohort is the requests that started together: one encoder run, then one
// decoder call per step for all their rows. Rows of one decoder call must
// have decoded equally many tokens, since the exports take no decoder
// attention mask; that is why members of one cohort start from prefixes
// of one length, and why another cohort's members join it (Join) only
// when both have decoded equally many positions.
type Cohort[Out any] struct {
	state   State
	members []*cohortMember[Out] // in row order
	size    int                  // items named: those started with and those joined
	stats   *Stats
}

// Cohort is an engine/batch cohort; the build fails if a method goes missing.
var _ batch.Cohort[int] = (*Cohort[int])(nil)

// NewCohort starts a cohort over state, whose rows are the members' first
// rows in order (each member starts with one row); stats may be nil.
func NewCohort[Out any](state State, members []Member[Out], stats *Stats) *Cohort[Out] {
	c := &Cohort[Out]{state: state, stats: stats, size: len(members)}
	if c.stats == nil {
		c.stats = &Stats{}
	}
	for i, m := range members {
		c.members = append(c.members, &cohortMember[Out]{index: i, search: m, rows: 1})
	}
	c.stats.Cohorts.Add(1)
	c.stats.Requests.Add(int64(len(members)))
	return c
}

// Step implements batch.Cohort: one decoder call for every row, then each
// member's search picks its next rows; finished members leave.
func (c *Cohort[Out]) Step() (map[int]Out, error) {
	var seqs [][]int64
	for _, m := range c.members {
		seqs = append(seqs, m.search.Sequences()...)
	}
	logits, err := c.state.Next(seqs)
	if err != nil {
		return nil, err
	}
	if len(logits) != len(seqs) {
		return nil, fmt.Errorf("seq2seq: %d rows of logits for %d sequences", len(logits), len(seqs))
	}
	sums := c.summarize(logits)
	type advanced struct {
		parents  []int
		finished bool
	}
	next := make([]advanced, len(c.members))
	c.eachMember(func(k, off int, m *cohortMember[Out]) {
		next[k].parents, next[k].finished = m.search.Advance(logits[off:off+m.rows], sums[off:off+m.rows])
	})
	done := map[int]Out{}
	var src []int
	kept := c.members[:0]
	regroup := false
	off := 0
	for k, m := range c.members {
		n := m.rows
		parents, finished := next[k].parents, next[k].finished
		if finished {
			done[m.index] = m.search.Result()
		} else {
			// The member's rows stay where they were only if no earlier
			// member left and its row count is unchanged.
			if len(parents) != n || len(src) != off {
				regroup = true
			}
			for _, p := range parents {
				src = append(src, off+p)
			}
			m.rows = len(parents)
			kept = append(kept, m)
		}
		off += n
	}
	clear(c.members[len(kept):])
	c.members = kept
	c.stats.Steps.Add(1)
	c.stats.DecoderRows.Add(int64(len(seqs)))
	if len(c.members) > 0 {
		c.state.Keep(src, regroup)
	}
	return done, nil
}

// eachMember calls f for every member (its index and first row) on up to
// GOMAXPROCS goroutines: the members' logits work (rules, sampling over a
// whole vocabulary per row) is independent, and the cores are otherwise
// idle between ORT runs. A panic in f is raised again on the caller's
// goroutine, where the Stepper's guard turns it into an error.
func (c *Cohort[Out]) eachMember(f func(k, off int, m *cohortMember[Out])) {
	offs := make([]int, len(c.members))
	off := 0
	for k, m := range c.members {
		offs[k] = off
		off += m.rows
	}
	workers := min(len(c.members), runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for k, m := range c.members {
			f(k, offs[k], m)
		}
		return
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	var panicked atomic.Pointer[any]
	for range workers {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					panicked.CompareAndSwap(nil, &r)
				}
			}()
			for k := int(next.Add(1) - 1); k < len(c.members); k = int(next.Add(1) - 1) {
				f(k, offs[k], c.members[k])
			}
		})
	}
	wg.Wait()
	if r := panicked.Load(); r != nil {
		panic(*r)
	}
}

// summarize lets processors edit their rows, then summarizes every row
// with its member's candidate count.
func (c *Cohort[Out]) summarize(logits [][]float32) []RowSummary {
	c.eachMember(func(_, off int, m *cohortMember[Out]) {
		if p, ok := m.search.(LogitsProcessor); ok {
			p.ProcessLogits(logits[off : off+m.rows])
		}
	})
	k, uniform := 0, true
	for i, m := range c.members {
		if i > 0 && m.search.Candidates() != k {
			uniform = false
		}
		k = m.search.Candidates()
	}
	if uniform {
		return SummarizeRows(logits, k)
	}
	sums := make([]RowSummary, 0, len(logits))
	off := 0
	for _, m := range c.members {
		sums = append(sums, SummarizeRows(logits[off:off+m.rows], m.search.Candidates())...)
		off += m.rows
	}
	return sums
}

// Len is how many positions every row has decoded, or -1 when the state
// is no Joiner (such a cohort never joins another).
func (c *Cohort[Out]) Len() int {
	if j, ok := c.state.(Joiner); ok {
		return j.Len()
	}
	return -1
}

// Join takes over other's members when both states can step as one
// (Joiner): other's rows follow c's, and other's item i becomes c's item
// n+i, n being the items c had named before. It reports whether it did;
// other is not used after a join, not even closed.
func (c *Cohort[Out]) Join(other batch.Cohort[Out]) bool {
	o, ok := other.(*Cohort[Out])
	if !ok || o == c || len(c.members) == 0 || len(o.members) == 0 {
		return false
	}
	if j, ok := c.state.(Joiner); !ok || !j.Join(o.state) {
		return false
	}
	for _, m := range o.members {
		m.index += c.size
		c.members = append(c.members, m)
	}
	c.size += o.size
	o.members, o.state = nil, nil
	return true
}

// Live is the number of members still decoding.
func (c *Cohort[Out]) Live() int { return len(c.members) }

// Drop implements batch.Cohort.
func (c *Cohort[Out]) Drop(indices []int) {
	gone := map[int]bool{}
	for _, i := range indices {
		gone[i] = true
	}
	var src []int
	kept := c.members[:0]
	off := 0
	for _, m := range c.members {
		if !gone[m.index] {
			for k := range m.rows {
				src = append(src, off+k)
			}
			kept = append(kept, m)
		}
		off += m.rows
	}
	clear(c.members[len(kept):])
	c.members = kept
	if len(c.members) > 0 {
		c.state.Keep(src, true)
	}
}

// Close implements batch.Cohort; the buffers go with the cohort.
func (c *Cohort[Out]) Close() { c.state = nil }
