package batch

import (
	"errors"
	"slices"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

// merging is a countdown cohort that takes newer ones over (a Merger);
// with panics set, Merge panics.
type merging struct {
	*countdownCohort
	panics bool
}

func (m *merging) Merge(other Cohort[int], offset int) bool {
	if m.panics {
		panic("merge")
	}
	o := other.(*merging)
	for i, left := range o.left {
		m.left[offset+i] = left
	}
	m.values = append(m.values, o.values...)
	return true
}

func mergingStart(c *countdown, panics bool) Starter[int, int] {
	return func(batch []int) (Cohort[int], error) {
		cc, err := c.start(batch)
		return &merging{countdownCohort: cc.(*countdownCohort), panics: panics}, err
	}
}

// Work that starts while a Merger runs joins it: its items answer their
// own callers, one cohort runs and closes, and the queue's accounting
// returns to idle.
func TestStepperMergesNewCohorts(t *testing.T) {
	c := &countdown{gate: make(chan struct{})}
	s := NewStepper(StepperConfig{}, identity, mergingStart(c, false))
	defer s.Close()
	ctx := testCtx(t)
	long := submitAsync(ctx, s, 6)
	waitParked(t, c, 0)
	short := []chan submitted{submitAsync(ctx, s, 2), submitAsync(ctx, s, 3)}
	waitStepperQueued(t, s, 2)
	c.gate <- struct{}{}
	waitParked(t, c, 1) // the short items started (and merged) before this step
	waitStarted(t, c, 2)
	if st := s.q.state(); st.running != 1 {
		t.Errorf("%d cohorts running after the merge, want 1", st.running)
	}
	close(c.gate)
	for i, ch := range append(short, long) {
		r := <-ch
		if want := 10 * []int{2, 3, 6}[i]; r.err != nil || r.out != want {
			t.Errorf("item %d: %d, %v; want %d", i, r.out, r.err, want)
		}
	}
	waitIdle(t, s)
	if _, _, closed := c.snapshot(); closed != 1 {
		t.Errorf("%d cohorts closed, want the merger alone", closed)
	}
	if c.mu.Lock(); !slices.Equal(c.finished[:2], []int{2, 3}) && !slices.Equal(c.finished[:2], []int{3, 2}) {
		t.Errorf("finished %v: the merged short items should finish before the long one", c.finished)
	}
	c.mu.Unlock()
}

// A Merge that panics fails the new batch and the merger's items with an
// internal error; the stepper serves on.
func TestStepperMergePanic(t *testing.T) {
	c := &countdown{gate: make(chan struct{})}
	s := NewStepper(StepperConfig{}, identity, mergingStart(c, true))
	defer s.Close()
	ctx := testCtx(t)
	long := submitAsync(ctx, s, 50)
	waitParked(t, c, 0)
	short := submitAsync(ctx, s, 2)
	waitStepperQueued(t, s, 1)
	close(c.gate)
	for _, ch := range []chan submitted{long, short} {
		var ee *engine.Error
		if r := <-ch; !errors.As(r.err, &ee) || ee.Kind != engine.KindInternal {
			t.Errorf("got %v, want an internal error", r.err)
		}
	}
	waitIdle(t, s)
	if out, err := s.Submit(ctx, 1); err != nil || out != 10 {
		t.Errorf("after the panic: %d, %v", out, err)
	}
}
