package batch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

func TestStepperShortItemsLeaveEarly(t *testing.T) {
	c := &countdown{}
	s := NewStepper(StepperConfig{Config: Config{MaxQueueDelay: time.Hour, Limits: Limits{MaxBatchSize: 3}}}, identity, c.start)
	defer s.Close()
	ctx := testCtx(t)
	var wg sync.WaitGroup
	outs := make([]int, 3)
	for i, v := range []int{1, 50, 3} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := s.Submit(ctx, v)
			if err != nil {
				t.Error(err)
			}
			outs[i] = out
		}()
	}
	wg.Wait()
	if !slices.Equal(outs, []int{10, 500, 30}) {
		t.Fatalf("outputs %v", outs)
	}
	waitClosed(t, c, 1)
	cohorts, _, closed := c.snapshot()
	if len(cohorts) != 1 || len(cohorts[0]) != 3 || closed != 1 {
		t.Errorf("cohorts %v, closed %d: the three items should share one cohort, closed once", cohorts, closed)
	}
}

func TestStepperStartsNewWorkBetweenSteps(t *testing.T) {
	c := &countdown{gate: make(chan struct{})}
	s := NewStepper(StepperConfig{}, identity, c.start)
	defer s.Close()
	ctx := testCtx(t)
	long := submitAsync(ctx, s, 100)
	for range 3 {
		c.gate <- struct{}{}
	}
	short := submitAsync(ctx, s, 2)
	eventually(t, "the short item to arrive", func() bool {
		st := s.q.state()
		return st.queued > 0 || st.running == 2 // queued, or started as a second cohort
	})
	close(c.gate)
	for _, ch := range []chan submitted{short, long} {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Steps record the order items finish in; the callers' goroutines may
	// be scheduled much later.
	if !slices.Equal(c.finished, []int{2, 100}) || len(c.cohorts) != 2 {
		t.Errorf("finished %v in cohorts %v: the short item should start while the long one runs and finish first",
			c.finished, c.cohorts)
	}
}

func TestStepperMaxLiveItems(t *testing.T) {
	c := &countdown{gate: make(chan struct{})}
	s := NewStepper(StepperConfig{MaxLiveItems: 2}, identity, c.start)
	defer s.Close()
	ctx := testCtx(t)
	a := submitAsync(ctx, s, 5)
	waitStarted(t, c, 1)
	b := submitAsync(ctx, s, 5)
	d := submitAsync(ctx, s, 1)
	waitStepperQueued(t, s, 2)
	close(c.gate)
	for _, ch := range []chan submitted{a, b, d} {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
	waitIdle(t, s)
	cohorts, _, _ := c.snapshot()
	// a runs alone; b or d joins as a second cohort, and the third waits
	// until one of them is done.
	if len(cohorts) != 3 {
		t.Errorf("cohorts %v, want three of one item", cohorts)
	}
	if c.maxOpen > 2 {
		t.Errorf("%d items ran at once, over MaxLiveItems 2", c.maxOpen)
	}
	if st := s.q.state(); st.admitted != 0 {
		t.Errorf("admitted %d after all finished", st.admitted)
	}
}

func TestStepperLiveItemsBoundTheStartingBatch(t *testing.T) {
	c := &countdown{gate: make(chan struct{})}
	s := NewStepper(StepperConfig{MaxLiveItems: 3}, identity, c.start)
	defer s.Close()
	ctx := testCtx(t)
	chans := []chan submitted{submitAsync(ctx, s, 2)}
	waitStarted(t, c, 1)
	for range 4 {
		chans = append(chans, submitAsync(ctx, s, 2))
	}
	waitStepperQueued(t, s, 4)
	close(c.gate)
	for _, ch := range chans {
		if r := <-ch; r.err != nil || r.out != 20 {
			t.Fatalf("%v, %v", r.out, r.err)
		}
	}
	cohorts, _, _ := c.snapshot()
	// One item runs, so the next cohort may take only two of the four queued.
	if len(cohorts) < 2 || len(cohorts[1]) != 2 {
		t.Errorf("cohorts %v, want the second to start with the 2 free places", cohorts)
	}
	if c.maxOpen > 3 {
		t.Errorf("%d items ran at once, over MaxLiveItems 3", c.maxOpen)
	}
}

func TestStepperDropsItemsWhoseCallerLeft(t *testing.T) {
	c := &countdown{gate: make(chan struct{})}
	s := NewStepper(StepperConfig{Config: Config{MaxQueueDelay: time.Hour, Limits: Limits{MaxBatchSize: 2}}}, identity, c.start)
	defer s.Close()
	ctx := testCtx(t)
	leaving, leave := context.WithCancel(ctx)
	gone := submitAsync(leaving, s, 1000)
	stay := submitAsync(ctx, s, 4)
	waitStarted(t, c, 1)
	c.gate <- struct{}{}
	leave()
	if r := <-gone; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", r.err)
	}
	for range 3 {
		c.gate <- struct{}{}
	}
	if r := <-stay; r.err != nil || r.out != 40 {
		t.Fatalf("remaining item: %v, %v", r.out, r.err)
	}
	waitClosed(t, c, 1)
	_, dropped, closed := c.snapshot()
	if !slices.Equal(dropped, []int{1000}) || closed != 1 {
		t.Errorf("dropped %v, closed %d", dropped, closed)
	}

	// A queued item whose caller left never starts.
	c = &countdown{gate: make(chan struct{})}
	s = NewStepper(StepperConfig{MaxLiveItems: 1}, identity, c.start)
	defer s.Close()
	running := submitAsync(ctx, s, 1)
	waitStarted(t, c, 1)
	early, cancelEarly := context.WithCancel(ctx)
	late := submitAsync(early, s, 7)
	waitStepperQueued(t, s, 1)
	cancelEarly()
	if r := <-late; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled submit: %v", r.err)
	}
	close(c.gate)
	if r := <-running; r.err != nil {
		t.Fatal(r.err)
	}
	if out, err := s.Submit(ctx, 1); err != nil || out != 10 {
		t.Fatalf("%v, %v", out, err)
	}
	for _, co := range mustCohorts(c) {
		if slices.Contains(co, 7) {
			t.Errorf("the cancelled item ran in cohort %v", co)
		}
	}
}

func TestStepperAdmission(t *testing.T) {
	c := &countdown{gate: make(chan struct{})}
	s := NewStepper(StepperConfig{Config: Config{MaxConcurrentRequests: 1}}, identity, c.start)
	defer s.Close()
	ctx := testCtx(t)
	first := submitAsync(ctx, s, 2)
	waitStarted(t, c, 1)
	if _, err := s.Submit(ctx, 1); engine.KindOf(err) != engine.KindCapacity {
		t.Errorf("over max_concurrent_requests: %v, want a capacity error", err)
	}
	close(c.gate)
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}

	c2 := &countdown{gate: make(chan struct{})}
	s2 := NewStepper(StepperConfig{}, identity, c2.start)
	defer s2.Close()
	running := submitAsync(ctx, s2, 2)
	waitStarted(t, c2, 1)
	busy := engine.WithOptions(ctx, engine.RunOptions{RejectIfBusy: true})
	if _, err := s2.Submit(busy, 1); engine.KindOf(err) != engine.KindCapacity {
		t.Errorf("rejectIfBusy while a cohort runs: %v, want a capacity error", err)
	}
	close(c2.gate)
	if r := <-running; r.err != nil {
		t.Fatal(r.err)
	}
	waitIdle(t, s2)
	if out, err := s2.Submit(busy, 1); err != nil || out != 10 {
		t.Errorf("rejectIfBusy when idle: %v, %v", out, err)
	}
}

func TestStepperFailures(t *testing.T) {
	ctx := testCtx(t)
	boom := errors.New("step failed")
	c := &countdown{failStep: boom}
	s := NewStepper(StepperConfig{}, identity, c.start)
	if _, err := s.Submit(ctx, 3); !errors.Is(err, boom) {
		t.Errorf("step error: got %v", err)
	}
	s.Close()
	if _, _, closed := c.snapshot(); closed != 1 {
		t.Errorf("a failed cohort should be closed, closed %d", closed)
	}

	startErr := errors.New("encoder failed")
	s = NewStepper(StepperConfig{}, identity, func([]int) (Cohort[int], error) { return nil, startErr })
	if _, err := s.Submit(ctx, 3); !errors.Is(err, startErr) {
		t.Errorf("start error: got %v", err)
	}
	s.Close()

	c = &countdown{panicAt: 9}
	s = NewStepper(StepperConfig{}, identity, c.start)
	defer s.Close()
	if _, err := s.Submit(ctx, 9); engine.KindOf(err) != engine.KindInternal {
		t.Errorf("panicking step: got %v, want an internal error", err)
	}
	if out, err := s.Submit(ctx, 2); err != nil || out != 20 {
		t.Errorf("after a panic the stepper should still serve: %v, %v", out, err)
	}
}

func TestStepperCloseFailsQueuedAndRunningWork(t *testing.T) {
	c := &countdown{gate: make(chan struct{})}
	s := NewStepper(StepperConfig{MaxLiveItems: 1}, identity, c.start)
	ctx := testCtx(t)
	running := submitAsync(ctx, s, 1<<30) // never finishes in a test's time
	waitStarted(t, c, 1)
	queued := submitAsync(ctx, s, 1)
	waitStepperQueued(t, s, 1)
	close(c.gate)
	s.Close()
	for _, ch := range []chan submitted{running, queued} {
		if r := <-ch; !errors.Is(r.err, ErrClosed) {
			t.Errorf("got %v, want ErrClosed", r.err)
		}
	}
	if _, _, closed := c.snapshot(); closed != 1 {
		t.Errorf("closed %d cohorts, want 1", closed)
	}
	if _, err := s.Submit(ctx, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("submit after close: %v", err)
	}
}
