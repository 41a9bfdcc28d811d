package loadgen

import (
	"context"
	"errors"
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
	res := ClosedLoop(context.Background(), 2, 0, 50*time.Millisecond, func(_ context.Context, w int) (int, error) {
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
