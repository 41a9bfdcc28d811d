package batch

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// countdown is a Starter whose items finish after as many steps as their
// value, with output 10×value. It records cohort sizes, drops and closes;
// with gate set, every step first waits for a value on it.
type countdown struct {
	mu       sync.Mutex
	cohorts  [][]int
	dropped  []int
	closed   int
	gate     chan struct{}
	failStep error
	panicAt  int // a value whose cohort panics on its first step
	// open counts items of cohorts started and not closed; maxOpen is its peak.
	open, maxOpen int
	finished      []int // values in the order their steps finished them
	steps         []int // per step taken, the first value of the cohort stepped
	// entered counts the steps begun, before each waits on gate: once it
	// is one more than the values sent on gate, the loop is parked there
	// with every decision before that step made.
	entered int
}

type countdownCohort struct {
	c       *countdown
	left    map[int]int // batch index → steps to go
	values  []int
	stepped int
}

func (c *countdown) start(batch []int) (Cohort[int], error) {
	c.mu.Lock()
	c.cohorts = append(c.cohorts, slices.Clone(batch))
	c.open += len(batch)
	c.maxOpen = max(c.maxOpen, c.open)
	c.mu.Unlock()
	cc := &countdownCohort{c: c, left: map[int]int{}, values: batch}
	for i, v := range batch {
		cc.left[i] = v
	}
	return cc, nil
}

func (cc *countdownCohort) Step() (map[int]int, error) {
	cc.c.mu.Lock()
	cc.c.entered++
	cc.c.mu.Unlock()
	if cc.c.gate != nil {
		<-cc.c.gate
	}
	if cc.c.failStep != nil {
		return nil, cc.c.failStep
	}
	if cc.c.panicAt != 0 && slices.Contains(cc.values, cc.c.panicAt) {
		panic("boom")
	}
	cc.stepped++
	cc.c.mu.Lock()
	cc.c.steps = append(cc.c.steps, cc.values[0])
	cc.c.mu.Unlock()
	done := map[int]int{}
	for i := range cc.left {
		cc.left[i]--
		if cc.left[i] == 0 {
			done[i] = 10 * cc.values[i]
			delete(cc.left, i)
			cc.c.mu.Lock()
			cc.c.finished = append(cc.c.finished, cc.values[i])
			cc.c.mu.Unlock()
		}
	}
	return done, nil
}

func (cc *countdownCohort) Drop(indices []int) {
	cc.c.mu.Lock()
	defer cc.c.mu.Unlock()
	for _, i := range indices {
		cc.c.dropped = append(cc.c.dropped, cc.values[i])
		delete(cc.left, i)
	}
}

func (cc *countdownCohort) Close() {
	cc.c.mu.Lock()
	cc.c.closed++
	cc.c.open -= len(cc.values)
	cc.c.mu.Unlock()
}

func (c *countdown) snapshot() (cohorts [][]int, dropped []int, closed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.cohorts), slices.Clone(c.dropped), c.closed
}

type submitted struct {
	out int
	err error
}

func submitAsync(ctx context.Context, s *Stepper[int, int], v int) chan submitted {
	ch := make(chan submitted, 1)
	go func() {
		out, err := s.Submit(ctx, v)
		ch <- submitted{out, err}
	}()
	return ch
}

// waitStepperQueued waits until n items are queued, so tests can order
// arrivals.
func waitStepperQueued(t *testing.T, s *Stepper[int, int], n int) {
	t.Helper()
	eventually(t, "items to queue", func() bool {
		return s.q.state().queued >= n
	})
}

// eventually polls cond until it holds or the test's patience ends.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitParked waits until the loop, after sent values on c.gate, waits on
// the gate for the next one.
func waitParked(t *testing.T, c *countdown, sent int) {
	t.Helper()
	eventually(t, "the loop to park at the next step", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.entered == sent+1
	})
}

func waitClosed(t *testing.T, c *countdown, n int) {
	t.Helper()
	eventually(t, "cohorts to close", func() bool { _, _, closed := c.snapshot(); return closed >= n })
}

func waitIdle(t *testing.T, s *Stepper[int, int]) {
	t.Helper()
	eventually(t, "the stepper to go idle", func() bool {
		st := s.q.state()
		return st.running == 0 && st.queued == 0
	})
}

func waitStarted(t *testing.T, c *countdown, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cohorts, _, _ := c.snapshot()
		if len(cohorts) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d cohorts started, want %d", len(cohorts), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustCohorts(c *countdown) [][]int {
	cohorts, _, _ := c.snapshot()
	return cohorts
}
