package batch

// Cohort is a batch whose items advance together, one step at a time,
// until each finishes: the sequences of one generation batch of any
// encoder-decoder or decoder-only model. A model family joins the Stepper
// by implementing Cohort and a Starter; nothing else in this package knows
// what a step computes.
//
// The contract:
//   - Only the Stepper's loop goroutine calls the methods, one at a time,
//     so a cohort needs no locking of its own; it may share buffers with
//     the other cohorts of its model for the same reason.
//   - Items are named by their index in the batch the cohort started
//     with, for the cohort's whole life. New work starts a new cohort; a
//     running cohort that is a Merger may then take it over, and names
//     its items after its own.
//   - Step advances every live item by one step and returns the items that
//     finished in it, with their outputs. A finished item is no longer
//     live; an index returned twice, out of range, or already dropped is
//     ignored. An error fails every live item of the cohort, and the
//     cohort is closed.
//   - Drop removes live items whose callers went away; it is called
//     between steps, never with an index already finished or dropped.
//   - Close releases the cohort once no item is live, after an error, or
//     at shutdown; no other method is called after it.
//   - A panic in any method fails the cohort's live items with an internal
//     error; the Stepper goes on serving.
type Cohort[Out any] interface {
	Step() (map[int]Out, error)
	Drop(indices []int)
	Close()
}

// Merger is a Cohort that can take over a newer cohort of its model, so
// that their items can share steps: a family whose running work cannot
// take new rows at any step (a decoder without an attention mask) lets
// the newcomers catch up inside it. Merge takes over other's items, other's
// item i becoming item offset+i (offset is how many items the merger has
// named so far), and reports whether it did; after a merge the Stepper
// uses other no more, not even to close it.
type Merger[Out any] interface {
	Cohort[Out]
	Merge(other Cohort[Out], offset int) bool
}

// Starter starts a cohort from a batch, on the Stepper's loop goroutine:
// for an encoder-decoder model it runs the encoder over the batch and sets
// up each item's decoding. The cohort's batch indices are those of batch.
// An error fails every item of the batch.
type Starter[In, Out any] func(batch []In) (Cohort[Out], error)

// running is a cohort the Stepper steps.
type running[In, Out any] struct {
	cohort Cohort[Out]
	items  []*stepItem[In, Out] // by batch index; nil once finished or dropped
	live   int
}

// fail ends every live item of the cohort with err.
func (rc *running[In, Out]) fail(err error) {
	for i, it := range rc.items {
		if it != nil {
			it.fail(err)
			rc.items[i] = nil
		}
	}
	rc.live = 0
}

// dropEnded takes the items whose callers went away out of the cohort.
func (rc *running[In, Out]) dropEnded() error {
	var gone []int
	for i, it := range rc.items {
		if it != nil && it.ctx.Err() != nil {
			gone = append(gone, i)
			rc.items[i] = nil
			rc.live--
		}
	}
	if len(gone) == 0 {
		return nil
	}
	_, err := guard("batch cohort", func() (struct{}, error) { rc.cohort.Drop(gone); return struct{}{}, nil })
	return err
}

// close closes the cohort; a panic in Close is dropped, as its items are
// already answered.
func (rc *running[In, Out]) close() {
	_, _ = guard("batch cohort", func() (struct{}, error) { rc.cohort.Close(); return struct{}{}, nil })
}

// deliver hands the finished items their outputs.
func (rc *running[In, Out]) deliver(outs map[int]Out) {
	for i, out := range outs {
		if i < 0 || i >= len(rc.items) || rc.items[i] == nil {
			continue
		}
		rc.items[i].finish(out, nil)
		rc.items[i] = nil
		rc.live--
	}
}
