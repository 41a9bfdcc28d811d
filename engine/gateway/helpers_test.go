package gateway

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/gateway/redistest"
)

// fakeBackend stands in for the model runtimes: outputs derive from the
// inputs, every run is counted by input, and a gate can hold runs back.
type fakeBackend struct {
	mu      sync.Mutex
	runs    map[string]int
	lowRuns int
	// gate, when set, makes every run wait for a value (or for its context).
	gate chan struct{}
	// started receives each input as its run begins, when set.
	started chan string
}

func newFakeBackend() *fakeBackend { return &fakeBackend{runs: map[string]int{}} }

func (b *fakeBackend) Check(context.Context, engine.ModelSpec) (engine.Installation, error) {
	return engine.Installation{Synthetic: true, Source: "fake"}, nil
}

func (b *fakeBackend) Load(context.Context, engine.ModelSpec) (engine.Model, error) {
	return fakeModel{b}, nil
}

// run counts a run of input and waits at the gate.
func (b *fakeBackend) run(ctx context.Context, input string) error {
	if b.started != nil {
		select {
		case b.started <- input:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if b.gate != nil {
		select {
		case <-b.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b.mu.Lock()
	b.runs[input]++
	if engine.OptionsFrom(ctx).LowPriority {
		b.lowRuns++
	}
	b.mu.Unlock()
	return nil
}

func (b *fakeBackend) lowPriorityRuns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lowRuns
}

func (b *fakeBackend) count(input string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runs[input]
}

type fakeModel struct{ b *fakeBackend }

func (fakeModel) Close() error { return nil }

func (m fakeModel) Embed(ctx context.Context, in *engine.EmbeddingsInput) (*engine.EmbeddingsOutput, error) {
	out := &engine.EmbeddingsOutput{Shape: [2]int{len(in.Text), 2}, Pooling: in.Pooling}
	for _, t := range in.Text {
		if t == "explode" {
			return nil, engine.Internal(fmt.Errorf("backend died"))
		}
		if err := m.b.run(ctx, t); err != nil {
			return nil, err
		}
		out.Data = append(out.Data, []float32{float32(len(t)), 0.5})
		out.PromptTokens += len(strings.Fields(t)) + 2
	}
	return out, nil
}

func (m fakeModel) Classify(ctx context.Context, in *engine.ImageInput) ([]engine.Classification, error) {
	if err := m.b.run(ctx, string(in.Image)); err != nil {
		return nil, err
	}
	return []engine.Classification{{Label: fmt.Sprintf("BYTES %d", len(in.Image)), Score: 1}}, nil
}

func (m fakeModel) Translate(ctx context.Context, in *engine.TranslationInput) (*engine.TranslationOutput, error) {
	if err := m.b.run(ctx, in.Text); err != nil {
		return nil, err
	}
	return &engine.TranslationOutput{TranslatedText: in.TargetLang + ":" + in.Text}, nil
}

func (m fakeModel) Generate(ctx context.Context, in *engine.GenerationInput, emit func(string) error) (*engine.GenerationOutput, error) {
	if err := m.b.run(ctx, in.Prompt); err != nil {
		return nil, err
	}
	words := strings.Fields(in.Prompt)
	for _, w := range words {
		if err := emit(w); err != nil {
			return nil, err
		}
	}
	return &engine.GenerationOutput{Response: strings.Join(words, " "),
		Usage: engine.Usage{PromptTokens: 5, CompletionTokens: len(words), TotalTokens: 5 + len(words)}}, nil
}

// newEngine serves the real catalog with every model on backend.
func newEngine(t *testing.T, cfg engine.Config, backend engine.Backend) *engine.Engine {
	t.Helper()
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Home = t.TempDir()
	for _, e := range cat.Entries() {
		mc := cfg.Models[e.ID]
		mc.Backend = "fake"
		cfg.Models[e.ID] = mc
	}
	eng, err := engine.New(cat, cfg, map[string]engine.Backend{"fake": backend}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// testConfig is the default configuration with a fresh models map.
func testConfig() engine.Config {
	cfg := engine.DefaultConfig()
	cfg.Models = map[string]engine.ModelConfig{}
	return cfg
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// storeKind opens a fresh store of one kind for a test.
type storeKind struct {
	name string
	open func(t *testing.T, cacheMaxBytes int64) *Store
}

// storeKinds are the two stores every conformance test runs against.
func storeKinds() []storeKind {
	return []storeKind{
		{"embedded", func(t *testing.T, cacheMaxBytes int64) *Store {
			s, err := OpenLocal(filepath.Join(t.TempDir(), "state", "gateway.db"), cacheMaxBytes)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"redis", func(t *testing.T, cacheMaxBytes int64) *Store {
			s, err := OpenRedis(testCtx(t), redistest.Start(t), cacheMaxBytes)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
}
