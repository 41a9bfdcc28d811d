package loadgen

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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

// Drained finishes every call it starts, however long past the window, and
// counts only the calls after the unmeasured first round.
func TestDrainedFinishesEveryCall(t *testing.T) {
	var mu sync.Mutex
	calls, cut := 0, 0
	res := Drained(context.Background(), 3, 50*time.Millisecond, func(ctx context.Context, w int) (int, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		select {
		case <-time.After(40 * time.Millisecond): // most of the window
		case <-ctx.Done():
			mu.Lock()
			cut++
			mu.Unlock()
			return 0, ctx.Err()
		}
		return 2, nil
	})
	if cut != 0 || res.Errors != 0 || res.Requests != calls-3 || res.Items != 2*res.Requests || res.Requests < 3 {
		t.Fatalf("calls %d (3 unmeasured), cut %d, result %+v", calls, cut, res)
	}
	if res.Elapsed < 80*time.Millisecond {
		t.Fatalf("elapsed %v: the calls in hand at the deadline were not waited for", res.Elapsed)
	}
}

func TestMergeAddsRounds(t *testing.T) {
	boom := errors.New("boom")
	a := Result{Requests: 3, Items: 6, Elapsed: time.Second, latencies: []time.Duration{1, 2, 3}}
	b := Result{Requests: 2, Items: 2, Errors: 1, FirstErr: boom, Elapsed: time.Second, latencies: []time.Duration{10}}
	m := Merge(a, b)
	if m.Requests != 5 || m.Items != 8 || m.Errors != 1 || m.FirstErr != boom || m.Elapsed != 2*time.Second {
		t.Fatalf("Merge = %+v", m)
	}
	if m.ItemsPerSecond() != 4 || m.Percentile(1) != 10 || m.Percentile(0) != 1 {
		t.Fatalf("merged rate %v, latencies %v", m.ItemsPerSecond(), m.latencies)
	}
}

func TestPostReturnsTheBodyOrTheStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "image/jpeg" {
			w.WriteHeader(http.StatusUnsupportedMediaType)
		}
		body, _ := io.ReadAll(r.Body)
		w.Write(append([]byte("got "), body...))
	}))
	defer srv.Close()
	out, err := Post(context.Background(), srv.Client(), srv.URL, "image/jpeg", []byte("jpeg"))
	if err != nil || string(out) != "got jpeg" {
		t.Fatalf("Post = %q, %v", out, err)
	}
	if _, err := Post(context.Background(), srv.Client(), srv.URL, "text/plain", []byte("x")); err == nil || !strings.Contains(err.Error(), "HTTP 415: got x") {
		t.Fatalf("a 415 gave %v, want an error with the status and body", err)
	}
}
