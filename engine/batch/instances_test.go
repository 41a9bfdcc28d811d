package batch

import (
	"runtime"
	"sync"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

// With two instances, two batches run at once from the one queue, and a
// third waits for a free instance.
func TestInstancesRunBatchesConcurrently(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 3)}
	s := New(Config{Limits: Limits{MaxBatchSize: 1}, Instances: 2}, identity, rec.run)
	defer s.Close()
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := s.Submit(ctx, []int{i})
			if err != nil || len(out) != 1 || out[0] != 2*i {
				t.Errorf("request %d: %v %v", i, out, err)
			}
		}()
	}
	<-rec.started
	<-rec.started // both instances are inside the runner at once
	select {
	case <-rec.started:
		t.Fatal("a third batch started while both instances were busy")
	default:
	}
	busy := engine.WithOptions(ctx, engine.RunOptions{RejectIfBusy: true})
	if _, err := s.Admit(busy); engine.KindOf(err) != engine.KindCapacity {
		t.Fatalf("rejectIfBusy with every instance running: %v", err)
	}
	rec.gate <- struct{}{}
	<-rec.started // the freed instance takes the third
	rec.gate <- struct{}{}
	rec.gate <- struct{}{}
	wg.Wait()
}

// rejectIfBusy is refused only when every instance is running.
func TestInstancesRejectIfBusyWhileOneIsFree(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 2)}
	s := New(Config{Instances: 2}, identity, rec.run)
	defer s.Close()
	ctx := testCtx(t)
	done := make(chan error, 2)
	go func() {
		_, err := s.Submit(ctx, []int{1})
		done <- err
	}()
	<-rec.started
	busy := engine.WithOptions(ctx, engine.RunOptions{RejectIfBusy: true})
	go func() {
		_, err := s.Submit(busy, []int{2})
		done <- err
	}()
	<-rec.started // admitted and running on the second instance
	rec.gate <- struct{}{}
	rec.gate <- struct{}{}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// Close stops every instance and fails what is still queued.
func TestInstancesClose(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 4)}
	s := New(Config{Limits: Limits{MaxBatchSize: 1}, Instances: 3}, identity, rec.run)
	ctx := testCtx(t)
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			_, err := s.Submit(ctx, []int{i})
			errs <- err
		}()
	}
	for range 3 {
		<-rec.started
	}
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	// Release the running batches only once Close has marked the scheduler
	// closed, so no instance takes the queued request first.
	for {
		if s.q.state().closed {
			break
		}
		runtime.Gosched()
	}
	for range 3 {
		rec.gate <- struct{}{}
	}
	<-closed
	var failed int
	for range 4 {
		if err := <-errs; err == ErrClosed {
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("%d requests failed with ErrClosed, want the 1 left in the queue", failed)
	}
}
