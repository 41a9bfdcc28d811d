// Package loadgen drives a function under load and reports throughput and
// latency percentiles. Closed loop: N workers call back to back. Open loop:
// calls start at a fixed rate whatever the latency, so queueing shows.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Call performs one request and reports how many items it carried.
type Call func(ctx context.Context, worker int) (items int, err error)

// Result summarises one run.
type Result struct {
	Requests  int
	Items     int
	Errors    int
	FirstErr  error
	Elapsed   time.Duration
	latencies []time.Duration
}

// ItemsPerSecond is the item throughput.
func (r Result) ItemsPerSecond() float64 { return float64(r.Items) / r.Elapsed.Seconds() }

// RequestsPerSecond is the request throughput.
func (r Result) RequestsPerSecond() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Percentile returns the q-quantile (0..1) of successful request latencies.
func (r Result) Percentile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

type recorder struct {
	mu  sync.Mutex
	res Result
}

func (rec *recorder) do(ctx context.Context, call Call, worker int) {
	start := time.Now()
	items, err := call(ctx, worker)
	lat := time.Since(start)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if ctx.Err() != nil && err != nil {
		return // cut off by the end of the run, not a failure
	}
	rec.res.Requests++
	if err != nil {
		rec.res.Errors++
		if rec.res.FirstErr == nil {
			rec.res.FirstErr = err
		}
		return
	}
	rec.res.Items += items
	rec.res.latencies = append(rec.res.latencies, lat)
}

// ClosedLoop runs concurrency workers back to back for d (after warmup,
// whose calls are not counted).
func ClosedLoop(ctx context.Context, concurrency int, warmup, d time.Duration, call Call) Result {
	if warmup > 0 {
		wctx, cancel := context.WithTimeout(ctx, warmup)
		closedLoop(wctx, concurrency, call, &recorder{})
		cancel()
	}
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	rec := &recorder{}
	start := time.Now()
	closedLoop(rctx, concurrency, call, rec)
	rec.res.Elapsed = time.Since(start)
	return rec.res
}

func closedLoop(ctx context.Context, concurrency int, call Call, rec *recorder) {
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				rec.do(ctx, call, w)
			}
		}()
	}
	wg.Wait()
}

// OpenLoop starts calls at rate per second for d, each on its own
// goroutine, and waits for the calls in flight at the end.
func OpenLoop(ctx context.Context, rate float64, d time.Duration, call Call) Result {
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	rec := &recorder{}
	interval := time.Duration(float64(time.Second) / rate)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var wg sync.WaitGroup
	start := time.Now()
	for n := 0; ; n++ {
		select {
		case <-rctx.Done():
			wg.Wait()
			rec.res.Elapsed = time.Since(start)
			return rec.res
		case <-ticker.C:
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec.do(context.WithoutCancel(rctx), call, n)
			}()
		}
	}
}

// Drained is a closed loop whose calls are never cut short, for calls as
// long as the window itself (a rerank request queued behind hundreds of
// pairs): every worker makes one unmeasured call, all wait for each other,
// then they call back to back until d has passed, each finishing the call
// in hand. Elapsed runs to the last completion, so every item counted was
// done inside it, and a window holding only a few rounds of calls is not
// biased by the calls a deadline would cut off (ClosedLoop cancels them).
func Drained(ctx context.Context, concurrency int, d time.Duration, call Call) Result {
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = call(ctx, w)
		}()
	}
	wg.Wait()
	rec := &recorder{}
	start := time.Now()
	deadline := start.Add(d)
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				rec.do(ctx, call, w)
			}
		}()
	}
	wg.Wait()
	rec.res.Elapsed = time.Since(start)
	return rec.res
}

// Merge sums results measured one after another (rounds of the same
// configuration): requests, items and elapsed time add up, the latencies
// are pooled, and the first error is the earliest result's.
func Merge(results ...Result) Result {
	var m Result
	for _, r := range results {
		m.Requests += r.Requests
		m.Items += r.Items
		m.Errors += r.Errors
		m.Elapsed += r.Elapsed
		m.latencies = append(m.latencies, r.latencies...)
		if m.FirstErr == nil {
			m.FirstErr = r.FirstErr
		}
	}
	return m
}

// Post sends body to url as contentType and returns the response body of a
// 200, else an error with the status and the start of the body. The
// harnesses' HTTP calls post with it.
func Post(ctx context.Context, client *http.Client, url, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %.200s", res.StatusCode, out)
	}
	return out, nil
}
