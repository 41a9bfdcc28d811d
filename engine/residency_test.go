package engine

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingBackend stands in for a runtime: it counts loads and closes so
// the residency rules can be checked without loading real models.
type countingBackend struct {
	loads, closes atomic.Int32
	opened        atomic.Int32 // loads that returned a model
	loadDelay     time.Duration
	fail          atomic.Bool
	gate          chan struct{} // when set, Embed waits on it
}

type countingModel struct{ b *countingBackend }

func (b *countingBackend) Check(context.Context, ModelSpec) (Installation, error) {
	return Installation{Bytes: 100, Synthetic: true}, nil
}

func (b *countingBackend) Load(context.Context, ModelSpec) (Model, error) {
	time.Sleep(b.loadDelay)
	b.loads.Add(1)
	if b.fail.Load() {
		return nil, errors.New("corrupt onnx/model.onnx: protobuf parse error")
	}
	b.opened.Add(1)
	return countingModel{b}, nil
}

func (m countingModel) Close() error { m.b.closes.Add(1); return nil }

func (m countingModel) Embed(context.Context, *EmbeddingsInput) (*EmbeddingsOutput, error) {
	if m.b.gate != nil {
		<-m.b.gate
	}
	return &EmbeddingsOutput{Shape: [2]int{1, 1}, Data: [][]float32{{1}}, Pooling: "mean"}, nil
}

const (
	small = "@cf/baai/bge-small-en-v1.5"
	base  = "@cf/baai/bge-base-en-v1.5"
)

func newCountingEngine(t *testing.T, b *countingBackend, server ServerConfig) *Engine {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Home = t.TempDir()
	cfg.Server = server
	for _, id := range []string{small, base} {
		cfg.Models[id] = ModelConfig{Backend: "counting"}
	}
	e, err := New(mustCatalog(t), cfg, map[string]Backend{"counting": b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func run(t *testing.T, e *Engine, model string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := e.Run(ctx, model, Input{JSON: []byte(`{"text":"x"}`)})
	return err
}

func stateOf(e *Engine, model string) string {
	for _, m := range e.Models() {
		if m.Model == model {
			return m.State
		}
	}
	return ""
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConcurrentFirstRequestsShareOneLoad(t *testing.T) {
	b := &countingBackend{loadDelay: 50 * time.Millisecond}
	e := newCountingEngine(t, b, ServerConfig{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(t, e, small) }()
	}
	wg.Wait()
	if n := b.loads.Load(); n != 1 {
		t.Fatalf("%d loads for 16 concurrent first requests, want 1", n)
	}
}

func TestIdleModelsUnloadAfterKeepAlive(t *testing.T) {
	zero := Duration(0)
	b := &countingBackend{}
	e := newCountingEngine(t, b, ServerConfig{KeepAlive: &zero})
	if err := run(t, e, small); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle model to unload", func() bool { return stateOf(e, small) == "unloaded" })
	if b.closes.Load() != 1 {
		t.Fatalf("closes = %d", b.closes.Load())
	}
	if err := run(t, e, small); err != nil || b.loads.Load() != 2 {
		t.Fatalf("reload after unload: %v, loads %d", err, b.loads.Load())
	}
}

func TestRequestKeepAliveOverridesTheDefault(t *testing.T) {
	b := &countingBackend{}
	e := newCountingEngine(t, b, ServerConfig{}) // default 5 minutes
	zero := time.Duration(0)
	ctx := WithOptions(context.Background(), RunOptions{KeepAliveFor: &zero})
	if _, err := e.Run(ctx, small, Input{JSON: []byte(`{"text":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "keep_alive 0 to unload the model", func() bool { return stateOf(e, small) == "unloaded" })
}

func TestBudgetEvictsLeastRecentlyUsedIdleModel(t *testing.T) {
	b := &countingBackend{}
	e := newCountingEngine(t, b, ServerConfig{MaxLoadedModels: 1})
	if err := run(t, e, small); err != nil {
		t.Fatal(err)
	}
	if err := run(t, e, base); err != nil {
		t.Fatal(err)
	}
	if stateOf(e, small) != "unloaded" || stateOf(e, base) != "loaded" {
		t.Fatalf("small %s, base %s", stateOf(e, small), stateOf(e, base))
	}
}

func TestBusyModelIsNeverEvicted(t *testing.T) {
	b := &countingBackend{gate: make(chan struct{})}
	e := newCountingEngine(t, b, ServerConfig{MaxLoadedModels: 1})
	done := make(chan error, 1)
	go func() { done <- run(t, e, small) }()
	waitFor(t, "small to be in use", func() bool {
		for _, m := range e.Models() {
			if m.Model == small && m.InUse == 1 {
				return true
			}
		}
		return false
	})
	if err := e.Unload(small); KindOf(err) != KindCapacity {
		t.Fatalf("unloading a busy model: %v", err)
	}
	go func() { _ = run(t, e, base) }() // over budget, but small is busy
	waitFor(t, "base to load", func() bool { return stateOf(e, base) == "loaded" })
	if stateOf(e, small) != "loaded" {
		t.Fatalf("the busy model was evicted: %s", stateOf(e, small))
	}
	close(b.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestFailedLoadIsReportedAndRetriedAfterUnload(t *testing.T) {
	b := &countingBackend{}
	b.fail.Store(true)
	e := newCountingEngine(t, b, ServerConfig{})
	err := run(t, e, small)
	if d := Describe(err); d.Status != 500 || stateOf(e, small) != "failed" {
		t.Fatalf("failed load: %+v, state %s", d, stateOf(e, small))
	}
	if err := run(t, e, small); err == nil || b.loads.Load() != 1 {
		t.Fatalf("within the cooldown the failure is remembered, loads %d", b.loads.Load())
	}
	if err := run(t, e, base); err == nil {
		t.Fatal("base should fail too while the backend fails")
	}
	b.fail.Store(false)
	if err := e.Unload(small); err != nil {
		t.Fatal(err)
	}
	if err := run(t, e, small); err != nil {
		t.Fatalf("after unload the next request retries: %v", err)
	}
}

func TestExplicitLoadAndUnload(t *testing.T) {
	b := &countingBackend{}
	e := newCountingEngine(t, b, ServerConfig{})
	if err := e.Load(context.Background(), small); err != nil || stateOf(e, small) != "loaded" {
		t.Fatalf("load: %v %s", err, stateOf(e, small))
	}
	if err := e.Unload(small); err != nil || stateOf(e, small) != "unloaded" || b.closes.Load() != 1 {
		t.Fatalf("unload: %v %s closes %d", err, stateOf(e, small), b.closes.Load())
	}
	if err := e.Load(context.Background(), "@cf/x/nope"); KindOf(err) != KindUnknownModel {
		t.Fatalf("load unknown: %v", err)
	}
}

// placedBackend loads models that report where they run.
type placedBackend struct{ countingBackend }

type placedModel struct{ countingModel }

func (placedModel) Placement() Placement {
	return Placement{ExecutionProvider: "CPUExecutionProvider", Fallback: "no NVIDIA GPU is visible"}
}

func (b *placedBackend) Load(ctx context.Context, spec ModelSpec) (Model, error) {
	m, err := b.countingBackend.Load(ctx, spec)
	if err != nil {
		return nil, err
	}
	return placedModel{m.(countingModel)}, nil
}

func TestModelsShowTheExecutionProvider(t *testing.T) {
	logs := &syncWriter{}
	cfg := DefaultConfig()
	cfg.Home = t.TempDir()
	cfg.Device = "cuda"
	cfg.Models[small] = ModelConfig{Backend: "placed"}
	cfg.Models[base] = ModelConfig{Backend: "counting", Device: "cpu"}
	b := &placedBackend{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	e, err := New(mustCatalog(t), cfg, map[string]Backend{"placed": b, "counting": &b.countingBackend}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, id := range []string{small, base} {
		if err := run(t, e, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range e.Models() {
		switch m.Model {
		case small:
			if m.Device != "cuda" || m.ExecutionProvider != "CPUExecutionProvider" || m.Fallback != "no NVIDIA GPU is visible" {
				t.Errorf("%s: device %q, provider %q, fallback %q; want the configured cuda, the provider in use and why", small, m.Device, m.ExecutionProvider, m.Fallback)
			}
		case base:
			if m.Device != "cpu" || m.ExecutionProvider != "" {
				t.Errorf("%s: device %q, provider %q; a model that does not report a placement shows none", base, m.Device, m.ExecutionProvider)
			}
		}
	}
	// The engine logs a load after the waiting request is released.
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), "model loaded") < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	out := logs.String()
	for _, want := range []string{"execution_provider=CPUExecutionProvider", "level=WARN", `reason="no NVIDIA GPU is visible"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
}

// syncWriter collects log output written from the engine's goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEveryOpenedModelIsClosedOnce races loads, runs and unloads of one
// model, with loads that sometimes fail, and checks that each model a load
// opened is closed exactly once by the time the engine has closed. Unload
// used to read a load's error outside the lock and then delete whatever
// entry sat under the ID by then, which could be a newer load that was
// never closed.
func TestEveryOpenedModelIsClosedOnce(t *testing.T) {
	b := &countingBackend{loadDelay: time.Millisecond}
	cfg := DefaultConfig()
	cfg.Home = t.TempDir()
	cfg.Models[small] = ModelConfig{Backend: "counting"}
	e, err := New(mustCatalog(t), cfg, map[string]Backend{"counting": b}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				switch (g + i) % 4 {
				case 0:
					_ = run(t, e, small)
				case 1:
					_ = e.Unload(small)
				case 2:
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_ = e.Load(ctx, small)
					cancel()
				case 3:
					b.fail.Store(i%3 == 0)
					_ = e.Unload(small)
				}
			}
		}()
	}
	wg.Wait()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if opened, closed := b.opened.Load(), b.closes.Load(); opened != closed || opened == 0 {
		t.Fatalf("%d models opened, %d closes (want every opened model closed exactly once)", opened, closed)
	}
	if err := run(t, e, small); err == nil {
		t.Fatal("a run after Close succeeded; want the engine closed")
	}
}

// Two Closes at once (a signal handler and a deferred Close) must not
// panic on closing the stop channel twice.
func TestConcurrentCloses(t *testing.T) {
	e := newCountingEngine(t, &countingBackend{}, ServerConfig{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = e.Close() }()
	}
	wg.Wait()
}
