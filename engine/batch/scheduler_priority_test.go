package batch

import (
	"slices"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

// While a batch runs, low-priority items queue first and an interactive one
// after them; the next batch must hold the interactive item alone, and the
// low-priority items run after it.
func TestInteractiveItemsRunBeforeQueuedLowPriorityItems(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 8)}
	s := New(Config{}, identity, rec.run)
	defer s.Close()
	ctx := testCtx(t)
	lowCtx := engine.WithOptions(ctx, engine.RunOptions{LowPriority: true})
	errCh := make(chan error, 3)
	go func() { _, err := s.Submit(ctx, []int{1}); errCh <- err }()
	<-rec.started // the runner is busy with [1]
	go func() { _, err := s.Submit(lowCtx, []int{100, 101}); errCh <- err }()
	waitQueued(t, s, 2)
	go func() { _, err := s.Submit(ctx, []int{7}); errCh <- err }()
	waitQueued(t, s, 3)
	close(rec.gate)
	for range 3 {
		if err := <-errCh; err != nil {
			t.Fatal(err)
		}
	}
	want := [][]int{{1}, {7}, {100, 101}}
	if !slices.EqualFunc(rec.batches, want, slices.Equal[[]int]) {
		t.Fatalf("batches %v, want %v", rec.batches, want)
	}
}

// Low-priority requests neither take nor need admission slots, and queued
// low-priority work does not make the model "busy" for rejectIfBusy.
func TestLowPriorityWorkDoesNotCrowdOutInteractiveCallers(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 8)}
	s := New(Config{MaxConcurrentRequests: 1}, identity, rec.run)
	defer s.Close()
	ctx := testCtx(t)
	lowCtx := engine.WithOptions(ctx, engine.RunOptions{LowPriority: true})
	errCh := make(chan error, 3)
	go func() { _, err := s.Submit(lowCtx, []int{100}); errCh <- err }()
	<-rec.started // a low-priority batch runs
	go func() { _, err := s.Submit(lowCtx, []int{101}); errCh <- err }()
	waitQueued(t, s, 1)
	busyCtx := engine.WithOptions(ctx, engine.RunOptions{RejectIfBusy: true})
	if _, err := s.Submit(busyCtx, []int{5}); engine.KindOf(err) != engine.KindCapacity {
		// The runner itself is busy, so this one is refused ...
		t.Fatalf("rejectIfBusy while a batch runs: %v", err)
	}
	// ... but an ordinary interactive request is admitted despite two
	// low-priority requests in flight and MaxConcurrentRequests 1.
	go func() { _, err := s.Submit(ctx, []int{7}); errCh <- err }()
	waitQueued(t, s, 2)
	close(rec.gate)
	for range 3 {
		if err := <-errCh; err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.seen(); !slices.Equal(got, []int{100, 7, 101}) {
		t.Fatalf("run order %v, want the interactive item before the queued low-priority one", got)
	}
}
