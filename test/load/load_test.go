// Package load holds the bounded load test: 1,000 concurrent loopback
// connections across all four tasks against the synthetic tiny models.
package load

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/backends"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/engine/httpapi"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// Tunable from the environment for longer runs (see docs/threat-model.md);
// the defaults keep `go test` well under a minute.
var (
	connections = envInt("EDGEINFER_LOAD_CONNECTIONS", 1000)
	duration    = envDuration("EDGEINFER_LOAD_DURATION", 4*time.Second)
)

const (
	embedModel     = "@cf/baai/bge-small-en-v1.5"
	imageModel     = synth.ResNetModelID
	translateModel = synth.M2M100ModelID
	generateModel  = "@cf/meta/llama-2-7b-chat-int8" // served by the synthetic Llama
)

// job is one task's request, sent over and over by its share of the
// connections.
type job struct {
	model, contentType string
	body               []byte
}

func jobs(t *testing.T) []job {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var png64 bytes.Buffer
	if err := png.Encode(&png64, img); err != nil {
		t.Fatal(err)
	}
	return []job{
		{embedModel, "application/json", []byte(`{"text":["load test sentence one","and two"]}`)},
		{imageModel, "image/png", png64.Bytes()},
		{translateModel, "application/json", []byte(`{"text":"Hello world","source_lang":"en","target_lang":"fr"}`)},
		{generateModel, "application/json", []byte(`{"prompt":"Say hi","max_tokens":4,"seed":1}`)},
	}
}

type result struct {
	task    int
	status  int
	latency time.Duration
	err     error
}

// startServer serves the real backends over synthetic tiny models from a
// temporary home, with serve's limits, on loopback.
func startServer(t *testing.T) (string, *engine.Engine) {
	ortLib, ollamaBin := ort.LibraryPath(), home.Resolve("", os.Getenv).OllamaBin
	for _, p := range []string{ortLib, ollamaBin} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v: run `make setup`", err)
		}
	}
	home := t.TempDir()
	// Hermetic: the installed runtimes, but models and Ollama's store and
	// key under the temporary home.
	t.Setenv(ort.LibEnv, ortLib)
	t.Setenv("EDGEINFER_OLLAMA_BIN", ollamaBin)
	t.Setenv("HOME", filepath.Join(home, "user"))
	t.Setenv("OLLAMA_HOST", "")
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: filepath.Join(home, "models")},
		[]string{embedModel, imageModel, translateModel, engine.SyntheticLlamaID}, io.Discard); err != nil {
		t.Fatal(err)
	}
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.Home = home
	// Greedy translation keeps each request short on a shared 2-core machine.
	cfg.Models[translateModel] = engine.ModelConfig{NumBeams: 1, MaxLength: 16}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	eng, err := engine.New(cat, cfg, backends.All(cfg), log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limits := httpapi.DefaultLimits()
	srv := httpapi.HTTPServer(httpapi.New(eng, httpapi.Options{Log: log}).Handler(), limits)
	go func() { _ = srv.Serve(httpapi.LimitListener(ln, limits.MaxConnections)) }()
	t.Cleanup(func() { _ = srv.Close(); eng.Close() })
	return "http://" + ln.Addr().String(), eng
}

func TestThousandConnectionsAcrossAllTasks(t *testing.T) {
	base, _ := startServer(t)
	js := jobs(t)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: connections, MaxConnsPerHost: connections}}
	send := func(ctx context.Context, j job) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/client/v4/accounts/load/ai/run/"+j.model, bytes.NewReader(j.body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", j.contentType)
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		_, err = io.Copy(io.Discard, res.Body)
		return res.StatusCode, err
	}
	// Warm-up: every model loaded (Ollama started) before the baseline.
	warm, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, j := range js {
		if status, err := send(warm, j); err != nil || status != http.StatusOK {
			t.Fatalf("warm-up %s: status %d, %v", j.model, status, err)
		}
	}
	client.CloseIdleConnections()
	goroutinesBefore, heapBefore := settle()

	// The guard bounds a server that stops answering; it is not expected.
	// Requests admitted before the end drain after it, slowly on a busy
	// machine, hence the margin.
	ctx, stop := context.WithTimeout(context.Background(), duration+3*time.Minute)
	defer stop()
	end := time.Now().Add(duration)
	results := make(chan result, 1<<16)
	var wg sync.WaitGroup
	for i := range connections {
		wg.Go(func() {
			task := i % len(js)
			for time.Now().Before(end) {
				start := time.Now()
				status, err := send(ctx, js[task])
				results <- result{task, status, time.Since(start), err}
				if err != nil {
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(results) }()
	lat := make([][]time.Duration, len(js))
	counts := make([]map[int]int, len(js))
	for i := range counts {
		counts[i] = map[int]int{}
	}
	var failures []string
	for r := range results {
		switch {
		case r.err != nil:
			failures = append(failures, fmt.Sprintf("%s: %v", js[r.task].model, r.err))
		case r.status == http.StatusOK:
			lat[r.task] = append(lat[r.task], r.latency)
		case r.status != http.StatusTooManyRequests:
			failures = append(failures, fmt.Sprintf("%s: status %d", js[r.task].model, r.status))
		}
		if r.err == nil {
			counts[r.task][r.status]++
		}
	}
	for i, j := range js {
		t.Logf("%-32s %v; %s", j.model, counts[i], percentiles(lat[i]))
	}
	if len(failures) > 0 {
		t.Fatalf("%d requests failed other than with 429, first: %s", len(failures), failures[0])
	}
	for i, j := range js {
		if counts[i][http.StatusOK] == 0 {
			t.Fatalf("%s never answered 200 under load", j.model)
		}
	}

	client.CloseIdleConnections()
	goroutinesAfter, heapAfter := settle()
	t.Logf("after the load: goroutines %d -> %d, live heap %.1f -> %.1f MiB (GOMAXPROCS %d)",
		goroutinesBefore, goroutinesAfter, mib(heapBefore), mib(heapAfter), runtime.GOMAXPROCS(0))
	// Slack for runtime and pool goroutines that come and go; a leak of one
	// per connection or request is far beyond it.
	if goroutinesAfter > goroutinesBefore+50 {
		t.Fatalf("goroutines grew from %d to %d after the load ended", goroutinesBefore, goroutinesAfter)
	}
	if heapAfter > heapBefore+64<<20 {
		t.Fatalf("live heap grew from %.1f to %.1f MiB after the load ended", mib(heapBefore), mib(heapAfter))
	}
}

// settle waits for connection goroutines to finish closing, then returns the
// goroutine count and the live heap after a collection. It polls rather than
// sleeping a fixed time: closed connections end their goroutines
// asynchronously.
func settle() (goroutines int, heap uint64) {
	prev := -1
	for range 50 {
		runtime.GC()
		n := runtime.NumGoroutine()
		if n == prev {
			break
		}
		prev = n
		time.Sleep(100 * time.Millisecond)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapAlloc
}

func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "no successes"
	}
	slices.Sort(d)
	at := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))].Round(time.Millisecond) }
	return fmt.Sprintf("%d ok, p50 %v, p99 %v, max %v", len(d), at(0.50), at(0.99), d[len(d)-1].Round(time.Millisecond))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func envInt(key string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(key), &n); err == nil && n > 0 {
		return n
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil && d > 0 {
		return d
	}
	return def
}
