package batch

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// A queued async batch job (many low-priority items, more than one cohort
// can hold) must not delay an interactive item beyond the decoder step in
// flight when it arrives: the next cohort to start is the interactive item
// alone, before any further low-priority cohort. Steps are counted, not
// timed.
func TestStepperInteractiveItemOvertakesQueuedBatchJob(t *testing.T) {
	c := &countdown{gate: make(chan struct{})}
	s := NewStepper(StepperConfig{Config: Config{Limits: Limits{MaxBatchSize: 4}}}, identity, c.start)
	defer s.Close()
	defer close(c.gate) // runs first: lets the loop reach Close
	ctx := testCtx(t)
	low := engine.WithOptions(ctx, engine.RunOptions{LowPriority: true})
	const job = 1000 // low-priority items never finish within the test
	submitAsync(low, s, job)
	waitStarted(t, c, 1) // its first step now waits on the gate
	for range 19 {
		submitAsync(low, s, job)
	}
	waitStepperQueued(t, s, 19)
	interactive := submitAsync(ctx, s, 1) // finishes at its first step
	waitStepperQueued(t, s, 20)

	c.gate <- struct{}{} // the step in flight ends; the next cohort starts
	c.gate <- struct{}{} // and takes its first step
	if cohorts := mustCohorts(c); len(cohorts) < 2 || !slices.Equal(cohorts[1], []int{1}) {
		t.Fatalf("cohorts %v: the interactive item should start alone in the cohort after the low-priority one", cohorts)
	}
	select {
	case r := <-interactive:
		if r.err != nil || r.out != 10 {
			t.Fatalf("interactive item: %v, %v", r.out, r.err)
		}
	case <-ctx.Done():
		t.Fatal("the interactive item did not finish")
	}
	c.mu.Lock()
	steps := slices.Clone(c.steps)
	c.mu.Unlock()
	if !slices.Equal(steps, []int{job, 1}) {
		t.Fatalf("steps %v: the interactive item should finish one step after the step in flight", steps)
	}
}

// Low-priority items neither count against MaxConcurrentRequests nor are
// refused by it, and queued low-priority items do not make the stepper busy
// for rejectIfBusy, as with Scheduler.
func TestStepperLowPriorityNeitherCountsNorIsRefused(t *testing.T) {
	c := &countdown{gate: make(chan struct{})}
	s := NewStepper(StepperConfig{Config: Config{MaxConcurrentRequests: 1, Limits: Limits{MaxBatchSize: 2}, MaxQueueDelay: time.Hour}}, identity, c.start)
	defer s.Close()
	defer close(c.gate)
	ctx := testCtx(t)
	low := engine.WithOptions(ctx, engine.RunOptions{LowPriority: true})
	// One low-priority item waits for company (the delay outlasts the test),
	// so nothing runs.
	lowDone := submitAsync(low, s, 1000)
	waitStepperQueued(t, s, 1)
	// A rejectIfBusy interactive item is admitted: only low-priority work
	// waits. It fills the batch with the low item, and runs alone ahead of it.
	busy := engine.WithOptions(ctx, engine.RunOptions{RejectIfBusy: true})
	first := submitAsync(busy, s, 1)
	var refused *submitted
	eventually(t, "the interactive item to start", func() bool {
		select {
		case r := <-first:
			refused = &r
			return true
		default:
			return len(mustCohorts(c)) > 0
		}
	})
	if refused != nil {
		t.Fatalf("rejectIfBusy with only low-priority work queued: %v", refused.err)
	}
	// Further low-priority items are admitted although an interactive
	// request holds the one admission slot.
	var lows []chan submitted
	for range 3 {
		lows = append(lows, submitAsync(low, s, 1000))
	}
	lows = append(lows, lowDone)
	eventually(t, "the low-priority items to queue or be refused", func() bool {
		for _, ch := range lows {
			select {
			case r := <-ch:
				t.Fatalf("a low-priority item was answered before running: %v", r.err)
			default:
			}
		}
		return s.q.state().queued >= 4
	})
	c.gate <- struct{}{}
	if r := <-first; r.err != nil || r.out != 10 {
		t.Fatalf("interactive item: %v, %v", r.out, r.err)
	}
	if cohorts := mustCohorts(c); !slices.Equal(cohorts[0], []int{1}) {
		t.Fatalf("first cohort %v, want the interactive item alone", cohorts[0])
	}
}

// With MaxLiveItems (translation sets it to its batch size), a batch job
// could fill every live place with items that decode for many steps, and an
// interactive item would wait until one of them finished. Low-priority
// cohorts leave interactiveReserve places free, so the interactive item
// still starts at the next step.
func TestStepperBatchJobLeavesRoomForInteractive(t *testing.T) {
	c := &countdown{gate: make(chan struct{})}
	const maxLive = 8
	s := NewStepper(StepperConfig{Config: Config{Limits: Limits{MaxBatchSize: maxLive}}, MaxLiveItems: maxLive}, identity, c.start)
	defer s.Close()
	defer close(c.gate)
	ctx := testCtx(t)
	low := engine.WithOptions(ctx, engine.RunOptions{LowPriority: true})
	const job = 1000
	submitAsync(low, s, job)
	waitStarted(t, c, 1)
	for range 19 {
		submitAsync(low, s, job)
	}
	waitStepperQueued(t, s, 19)
	// Let the job take every place it may: cohorts start between steps.
	// Once the loop parks at the fifth step, it has decided after the
	// fourth, and the interactive item arrives while that step is in flight.
	for range 4 {
		c.gate <- struct{}{}
	}
	waitParked(t, c, 4)
	c.mu.Lock()
	open := c.open
	c.mu.Unlock()
	if want := maxLive - interactiveReserve(maxLive); open != want {
		t.Fatalf("the job holds %d live places, want %d", open, want)
	}
	interactive := submitAsync(ctx, s, 1)
	waitStepperQueued(t, s, 20-open+1)
	cohortsBefore := len(mustCohorts(c))
	c.gate <- struct{}{} // the step in flight ends; the interactive cohort starts
	waitParked(t, c, 5)
	if cohorts := mustCohorts(c); len(cohorts) != cohortsBefore+1 || !slices.Equal(cohorts[cohortsBefore], []int{1}) {
		t.Fatalf("cohorts %v: the interactive item should start alone right after the step in flight", cohorts)
	}
	for {
		select {
		case r := <-interactive:
			if r.err != nil || r.out != 10 {
				t.Fatalf("interactive item: %v, %v", r.out, r.err)
			}
			return
		case c.gate <- struct{}{}: // round-robin: the other cohorts step too
		case <-ctx.Done():
			t.Fatal("the interactive item did not finish")
		}
	}
}

// The reserve for interactive items never takes the last live place: with
// MaxLiveItems 1 (a translation model with max_batch_size 1) a batch job
// must still run, one item at a time.
func TestStepperSingleLivePlaceStillRunsBatchJobs(t *testing.T) {
	c := &countdown{}
	s := NewStepper(StepperConfig{Config: Config{Limits: Limits{MaxBatchSize: 1}}, MaxLiveItems: 1}, identity, c.start)
	defer s.Close()
	ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	low := engine.WithOptions(ctx, engine.RunOptions{LowPriority: true})
	for _, v := range []int{2, 3} {
		if out, err := s.Submit(low, v); err != nil || out != 10*v {
			t.Fatalf("low-priority item %d: %v, %v", v, out, err)
		}
	}
}
