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

// recorder is a batch runner that doubles its inputs and records batches.
// When gate is set, each batch waits for a value on it.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	gate    chan struct{}
	started chan struct{}
	fail    error
}

func (r *recorder) run(batch []int) ([]int, error) {
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(batch))
	r.mu.Unlock()
	if r.started != nil {
		r.started <- struct{}{}
	}
	if r.gate != nil {
		<-r.gate
	}
	if r.fail != nil {
		return nil, r.fail
	}
	out := make([]int, len(batch))
	for i, v := range batch {
		out[i] = 2 * v
	}
	return out, nil
}

func (r *recorder) seen() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []int
	for _, b := range r.batches {
		all = append(all, b...)
	}
	return all
}

func identity(v int) int { return 1 }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConcurrentRequestsGetTheirOwnOutputsInOrder(t *testing.T) {
	rec := &recorder{}
	s := New(Config{Limits: Limits{MaxBatchSize: 3}}, identity, rec.run)
	defer s.Close()
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for r := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := []int{r * 100, r*100 + 1, r*100 + 2, r*100 + 3, r*100 + 4}
			out, err := s.Submit(ctx, in)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range in {
				if out[i] != 2*in[i] {
					t.Errorf("request %d got %v for %v", r, out, in)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, b := range rec.batches {
		if len(b) > 3 {
			t.Fatalf("batch %v over MaxBatchSize", b)
		}
	}
}

func TestAdmissionRefusesBeyondMaxConcurrentRequests(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 1)}
	s := New(Config{MaxConcurrentRequests: 1}, identity, rec.run)
	defer s.Close()
	ctx := testCtx(t)
	first := make(chan error, 1)
	go func() { _, err := s.Submit(ctx, []int{1}); first <- err }()
	<-rec.started
	_, err := s.Submit(ctx, []int{2})
	if engine.KindOf(err) != engine.KindCapacity || engine.Describe(err).RetryAfter == 0 {
		t.Fatalf("second request: %v, want capacity with Retry-After", err)
	}
	close(rec.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

func TestRejectIfBusy(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 1)}
	s := New(Config{}, identity, rec.run)
	defer s.Close()
	ctx := testCtx(t)
	go func() { _, _ = s.Submit(ctx, []int{1}) }()
	<-rec.started
	busyCtx := engine.WithOptions(ctx, engine.RunOptions{RejectIfBusy: true})
	if _, err := s.Submit(busyCtx, []int{2}); engine.KindOf(err) != engine.KindCapacity {
		t.Fatalf("rejectIfBusy while running: %v", err)
	}
	close(rec.gate)
}

func TestCancelledRequestsAreDroppedBeforeInference(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 4)}
	s := New(Config{}, identity, rec.run)
	defer s.Close()
	ctx := testCtx(t)
	go func() { _, _ = s.Submit(ctx, []int{1}) }()
	<-rec.started // the runner is now busy with [1]
	cancelled, cancel := context.WithCancel(ctx)
	errCh := make(chan error, 1)
	go func() { _, err := s.Submit(cancelled, []int{666}); errCh <- err }()
	waitQueued(t, s, 1)
	cancel()
	if err := <-errCh; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled submit returned %v", err)
	}
	go func() {
		out, err := s.Submit(ctx, []int{7})
		if err != nil || out[0] != 14 {
			t.Errorf("later request: %v %v", out, err)
		}
		errCh <- err
	}()
	waitQueued(t, s, 2)
	rec.gate <- struct{}{} // finish [1]
	rec.gate <- struct{}{} // finish the next batch
	<-errCh
	if slices.Contains(rec.seen(), 666) {
		t.Fatalf("the cancelled item reached the runner: %v", rec.batches)
	}
}

// waitQueued waits until n items are queued.
func waitQueued[In, Out any](t *testing.T, s *Scheduler[In, Out], n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if s.q.state().queued >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("queue never reached %d items", n)
}

func TestQueueDelayGathersAFullBatch(t *testing.T) {
	rec := &recorder{}
	// A delay far longer than the test: the batch may only run because it is full.
	s := New(Config{Limits: Limits{MaxBatchSize: 3}, MaxQueueDelay: time.Hour}, identity, rec.run)
	defer s.Close()
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = s.Submit(ctx, []int{i}) }()
	}
	wg.Wait()
	if len(rec.batches) != 1 || len(rec.batches[0]) != 3 {
		t.Fatalf("batches %v, want one batch of 3", rec.batches)
	}
}

func TestRunnerErrorReachesEveryItem(t *testing.T) {
	rec := &recorder{fail: engine.BadInput("text", "boom")}
	s := New(Config{}, identity, rec.run)
	defer s.Close()
	if _, err := s.Submit(testCtx(t), []int{1, 2}); engine.KindOf(err) != engine.KindBadInput {
		t.Fatalf("err = %v", err)
	}
}

func TestRunnerPanicIsAnInternalError(t *testing.T) {
	s := New(Config{}, identity, func([]int) ([]int, error) { panic("bug") })
	defer s.Close()
	if _, err := s.Submit(testCtx(t), []int{1}); engine.KindOf(err) != engine.KindInternal {
		t.Fatalf("err = %v", err)
	}
	// The scheduler survives for the next request.
	if _, err := s.Submit(testCtx(t), []int{1}); engine.KindOf(err) != engine.KindInternal {
		t.Fatalf("second err = %v", err)
	}
}

func TestCloseFailsQueuedWork(t *testing.T) {
	rec := &recorder{gate: make(chan struct{}), started: make(chan struct{}, 1)}
	s := New(Config{}, identity, rec.run)
	ctx := testCtx(t)
	go func() { _, _ = s.Submit(ctx, []int{1}) }()
	<-rec.started
	errCh := make(chan error, 1)
	go func() { _, err := s.Submit(ctx, []int{2}); errCh <- err }()
	waitQueued(t, s, 1)
	close(rec.gate) // let [1], and [2] if it starts before Close lands, finish
	s.Close()
	if err := <-errCh; err == nil {
		// [2] may have run before Close took effect; that is fine too.
		return
	} else if !errors.Is(err, ErrClosed) {
		t.Fatalf("queued work after Close: %v", err)
	}
	if _, err := s.Submit(ctx, []int{3}); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after Close: %v", err)
	}
}
