package loadgen

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	r := Result{latencies: []time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}}
	if r.Percentile(0.5) != 5 || r.Percentile(0.99) != 10 || r.Percentile(0) != 1 {
		t.Fatalf("p50 %v p99 %v p0 %v", r.Percentile(0.5), r.Percentile(0.99), r.Percentile(0))
	}
}

func TestClosedLoopCountsItemsAndErrors(t *testing.T) {
	boom := errors.New("boom")
	// A loaded machine (CI runs packages in parallel) may not schedule the
	// second worker within a short window: the window is generous, and the
	// first worker waits for the second to have called once.
	second := make(chan struct{})
	var once sync.Once
	res := ClosedLoop(context.Background(), 2, 0, 500*time.Millisecond, func(ctx context.Context, w int) (int, error) {
		if w == 1 {
			once.Do(func() { close(second) })
		} else {
			select {
			case <-second:
			case <-ctx.Done():
			}
		}
		time.Sleep(time.Millisecond)
		if w == 1 {
			return 0, boom
		}
		return 3, nil
	})
	if res.Requests == 0 || res.Items != 3*(res.Requests-res.Errors) || res.Errors == 0 || !errors.Is(res.FirstErr, boom) {
		t.Fatalf("%+v", res)
	}
}
