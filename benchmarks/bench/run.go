package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/edgeinfer/edgeinfer/benchmarks/loadgen"
	"github.com/edgeinfer/edgeinfer/engine"
)

// Options configure a benchmark run.
type Options struct {
	Concurrency []int
	Warmup      time.Duration
	Duration    time.Duration
	// Progress receives a live status line (carriage-return updated).
	Progress io.Writer
}

// Point is the result of one model at one concurrency.
type Point struct {
	Model          string  `json:"model"`
	Concurrency    int     `json:"concurrency"`
	Requests       int     `json:"requests"`
	Errors         int     `json:"errors"`
	FirstError     string  `json:"first_error,omitempty"`
	RequestsPerSec float64 `json:"requests_per_s"`
	ItemsPerSec    float64 `json:"items_per_s"`
	TokensPerSec   float64 `json:"tokens_per_s,omitempty"`
	P50ms          float64 `json:"p50_ms"`
	P95ms          float64 `json:"p95_ms"`
	P99ms          float64 `json:"p99_ms"`
	TTFTp50ms      float64 `json:"ttft_p50_ms,omitempty"`
	MeanBatch      float64 `json:"mean_batch_size,omitempty"`
	MeanQueueMs    float64 `json:"mean_queue_ms,omitempty"`
	// BatchSizes maps a histogram upper bound to the batches at most that size.
	BatchSizes map[string]uint64 `json:"batch_sizes,omitempty"`
}

// Run drives each workload at each concurrency.
func Run(ctx context.Context, t Target, workloads []Workload, o Options) ([]Point, error) {
	var points []Point
	for _, w := range workloads {
		// The first call loads the model, and a model measured for the
		// first time on this machine calibrates its batch sizes: seconds
		// longer than a warm-up. A warm-up cut off at its deadline left
		// the load running into the first measured window (one call of
		// 11.8 s in bge-base's concurrency-1 row). So one call runs to
		// completion first, its outcome unused: an error shows again in
		// the measured calls.
		_, _ = t.Call(ctx, w.Model, w.Requests[0], w.Stream)
		for _, c := range o.Concurrency {
			p, err := runOne(ctx, t, w, c, o)
			if err != nil {
				return points, err
			}
			points = append(points, p)
		}
	}
	if o.Progress != nil {
		fmt.Fprintln(o.Progress)
	}
	return points, nil
}

func runOne(ctx context.Context, t Target, w Workload, concurrency int, o Options) (Point, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var ttfts []time.Duration
	var tokens atomic.Int64
	call := func(ctx context.Context, _ int) (int, error) {
		req := w.Requests[int(next.Add(1))%len(w.Requests)]
		out, err := t.Call(ctx, w.Model, req, w.Stream)
		if err == nil && w.Stream {
			tokens.Add(int64(out.Tokens))
			mu.Lock()
			ttfts = append(ttfts, out.TTFT)
			mu.Unlock()
		}
		return out.Items, err
	}
	// A transcription can outlast the window (seconds of audio per
	// request): a closed loop would cancel the calls in flight at the
	// deadline and count nothing. Those run drained — every call started in
	// the window finishes and the window ends with the last one — after one
	// unmeasured call per worker, which is their warm-up (its batches do
	// count in the batch metrics).
	drained := w.Task == engine.TaskSpeechRecognition
	if o.Warmup > 0 && !drained {
		loadgen.ClosedLoop(ctx, concurrency, 0, o.Warmup, call)
	}
	mu.Lock()
	ttfts = nil
	mu.Unlock()
	tokens.Store(0)
	before, err := t.Metrics(ctx)
	if err != nil {
		return Point{}, fmt.Errorf("reading metrics: %w", err)
	}
	stop := progress(o.Progress, w.Model, concurrency, &next)
	var res loadgen.Result
	if drained {
		res = loadgen.Drained(ctx, concurrency, o.Duration, call)
	} else {
		res = loadgen.ClosedLoop(ctx, concurrency, 0, o.Duration, call)
	}
	stop()
	after, err := t.Metrics(ctx)
	if err != nil {
		return Point{}, fmt.Errorf("reading metrics: %w", err)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	p := Point{Model: w.Model, Concurrency: concurrency, Requests: res.Requests, Errors: res.Errors,
		RequestsPerSec: res.RequestsPerSecond(), ItemsPerSec: res.ItemsPerSecond(),
		P50ms: ms(res.Percentile(0.5)), P95ms: ms(res.Percentile(0.95)), P99ms: ms(res.Percentile(0.99))}
	if res.FirstErr != nil {
		p.FirstError = res.FirstErr.Error()
	}
	if w.Stream {
		p.TokensPerSec = float64(tokens.Load()) / res.Elapsed.Seconds()
		slices.Sort(ttfts)
		if len(ttfts) > 0 {
			p.TTFTp50ms = ms(ttfts[len(ttfts)/2])
		}
	}
	if sum, count, buckets := histogramDelta(before, after, "edgeinfer_batch_size", w.Model); count > 0 {
		p.MeanBatch, p.BatchSizes = sum/float64(count), buckets
	}
	if sum, count, _ := histogramDelta(before, after, "edgeinfer_queue_duration_seconds", w.Model); count > 0 {
		p.MeanQueueMs = 1000 * sum / float64(count)
	}
	return p, nil
}

// progress prints a live line until stop is called.
func progress(w io.Writer, model string, concurrency int, calls *atomic.Int64) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	start, base := time.Now(), calls.Load()
	go func() {
		ticker := time.NewTicker(500 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				n := calls.Load() - base
				fmt.Fprintf(w, "\r%-40s c=%-3d %6d requests %8.1f req/s   ", model, concurrency, n, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	return func() { close(done) }
}

// histogramDelta returns the sum, count and cumulative bucket counts a
// histogram gained for one model between two scrapes.
func histogramDelta(before, after map[string]*dto.MetricFamily, name, model string) (sum float64, count uint64, buckets map[string]uint64) {
	a := Histogram(after, name, model)
	if a == nil {
		return 0, 0, nil
	}
	b := Histogram(before, name, model)
	sum, count = a.GetSampleSum(), a.GetSampleCount()
	buckets = map[string]uint64{}
	for i, bk := range a.GetBucket() {
		n := bk.GetCumulativeCount()
		if b != nil {
			n -= b.GetBucket()[i].GetCumulativeCount()
		}
		buckets[fmt.Sprintf("%g", bk.GetUpperBound())] = n
	}
	if b != nil {
		sum -= b.GetSampleSum()
		count -= b.GetSampleCount()
	}
	return sum, count, buckets
}

// Histogram returns one model's series of a histogram from a scrape, or nil.
func Histogram(families map[string]*dto.MetricFamily, name, model string) *dto.Histogram {
	for _, metric := range families[name].GetMetric() {
		for _, l := range metric.GetLabel() {
			if l.GetName() == "model" && l.GetValue() == model {
				return metric.GetHistogram()
			}
		}
	}
	return nil
}

// BatchStats reads the mean size and padding ratio of a model's batches
// from the engine's histograms.
func BatchStats(eng *engine.Engine, model string) (size, padding float64, err error) {
	families, err := (&EngineTarget{Engine: eng}).Metrics(context.Background())
	if err != nil {
		return 0, 0, err
	}
	mean := func(name string) float64 {
		if h := Histogram(families, name, model); h.GetSampleCount() > 0 {
			return h.GetSampleSum() / float64(h.GetSampleCount())
		}
		return 0
	}
	return mean("edgeinfer_batch_size"), mean("edgeinfer_batch_padding_ratio"), nil
}
