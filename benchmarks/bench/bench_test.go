package bench

import (
	"bytes"
	"context"
	"image/jpeg"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/edgeinfer/edgeinfer/engine"
)

func TestWorkloadsAreReproducible(t *testing.T) {
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range cat.Entries() {
		if e.Task == engine.TaskImageClassification {
			continue // covered by TestImages, and slow to build twice
		}
		a, err := NewWorkload(e, 7)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewWorkload(e, 7)
		c, _ := NewWorkload(e, 8)
		if len(a.Requests) == 0 || !bytes.Equal(a.Requests[3].Body, b.Requests[3].Body) || bytes.Equal(a.Requests[3].Body, c.Requests[3].Body) {
			t.Fatalf("%s: workload not reproducible from its seed", e.ID)
		}
		if a.Stream != (e.Task == engine.TaskTextGeneration) {
			t.Fatalf("%s: stream %v", e.ID, a.Stream)
		}
	}
}

func TestImagesHaveMixedSizes(t *testing.T) {
	imgs, err := Images(6, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range imgs {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Width != imageSizes[i][0] || cfg.Height != imageSizes[i][1] {
			t.Fatalf("image %d is %dx%d", i, cfg.Width, cfg.Height)
		}
	}
}

func histogram(model string, sum float64, count uint64, cumulative ...uint64) map[string]*dto.MetricFamily {
	h := &dto.Histogram{SampleSum: proto.Float64(sum), SampleCount: proto.Uint64(count)}
	for i, c := range cumulative {
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(float64(int(1) << i)), CumulativeCount: proto.Uint64(c)})
	}
	return map[string]*dto.MetricFamily{"edgeinfer_batch_size": {Metric: []*dto.Metric{{
		Label: []*dto.LabelPair{{Name: proto.String("model"), Value: proto.String(model)}}, Histogram: h}}}}
}

func TestHistogramDelta(t *testing.T) {
	before := histogram("m", 10, 4, 1, 3, 4)
	after := histogram("m", 40, 10, 2, 7, 10)
	sum, count, buckets := histogramDelta(before, after, "edgeinfer_batch_size", "m")
	if sum != 30 || count != 6 || buckets["1"] != 1 || buckets["2"] != 4 || buckets["4"] != 6 {
		t.Fatalf("sum %v count %v buckets %v", sum, count, buckets)
	}
	if _, count, _ := histogramDelta(before, after, "edgeinfer_batch_size", "other"); count != 0 {
		t.Fatal("another model's histogram was read")
	}
}

func TestMarkdownListsEveryPointAndErrors(t *testing.T) {
	md := Markdown([]Point{{Model: "@cf/a/b", Concurrency: 4, ItemsPerSec: 12.5}, {Model: "@cf/a/b", Concurrency: 8, Errors: 2, FirstError: "HTTP 429"}})
	if strings.Count(md, "| @cf/a/b |") != 2 || !strings.Contains(md, "HTTP 429") {
		t.Fatal(md)
	}
}

// slowTarget answers every call after a fixed delay, with no metrics.
type slowTarget struct{ delay time.Duration }

func (s slowTarget) Call(ctx context.Context, _ string, req Request, _ bool) (Outcome, error) {
	select {
	case <-time.After(s.delay):
		return Outcome{Items: req.Items}, nil
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
}

func (slowTarget) Metrics(context.Context) (map[string]*dto.MetricFamily, error) {
	return map[string]*dto.MetricFamily{}, nil
}

// A transcription longer than the measuring window is counted, not cut off
// at the deadline: the window runs until the calls started in it finish.
func TestTranscriptionsLongerThanTheWindowAreCounted(t *testing.T) {
	w := Workload{Model: "@cf/openai/whisper-tiny-en", Task: engine.TaskSpeechRecognition, Requests: []Request{{Body: []byte("RIFF"), Binary: true, Items: 1}}}
	points, err := Run(context.Background(), slowTarget{delay: 150 * time.Millisecond}, []Workload{w}, Options{Concurrency: []int{2}, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if p := points[0]; p.Requests < 2 || p.Errors != 0 || p.ItemsPerSec <= 0 {
		t.Fatalf("long transcriptions were not counted: %+v", p)
	}
}

// lazyTarget loads its model on the first call, as the engine does: the
// load goes on when that call's context ends, later calls wait for it, and
// a call that waited reports waitedItems items instead of its request's.
type lazyTarget struct {
	once   sync.Once
	loaded chan struct{}
	load   time.Duration
}

const waitedItems = 1000

func (l *lazyTarget) Call(ctx context.Context, _ string, req Request, _ bool) (Outcome, error) {
	l.once.Do(func() { time.AfterFunc(l.load, func() { close(l.loaded) }) })
	items := req.Items
	select {
	case <-l.loaded:
	default:
		items = waitedItems
	}
	select {
	case <-l.loaded:
		return Outcome{Items: items}, nil
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
}

func (*lazyTarget) Metrics(context.Context) (map[string]*dto.MetricFamily, error) {
	return map[string]*dto.MetricFamily{}, nil
}

// A model load longer than the warm-up stays out of the measured window.
func TestModelLoadIsNotMeasured(t *testing.T) {
	lt := &lazyTarget{loaded: make(chan struct{}), load: 150 * time.Millisecond}
	w := Workload{Model: "@cf/baai/bge-base-en-v1.5", Requests: []Request{{Items: 1}}}
	points, err := Run(context.Background(), lt, []Workload{w}, Options{Concurrency: []int{1}, Warmup: 10 * time.Millisecond, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if p := points[0]; p.Requests == 0 || p.ItemsPerSec != p.RequestsPerSec {
		t.Fatalf("a call that waited for the model load was measured: %d requests, %.1f items/s against %.1f requests/s", p.Requests, p.ItemsPerSec, p.RequestsPerSec)
	}
}
