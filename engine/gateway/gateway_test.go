package gateway

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/prometheus/client_golang/prometheus"
)

const bgeSmall = "@cf/baai/bge-small-en-v1.5"

// newGateway serves a fake-backed engine through a gateway on an embedded
// store in a temp dir.
func newGateway(t *testing.T, cfg engine.Config, backend *fakeBackend) (*Gateway, *prometheus.Registry) {
	t.Helper()
	store, err := OpenLocal(filepath.Join(t.TempDir(), "gateway.db"), cfg.Gateway.CacheMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg := prometheus.NewRegistry()
	g := New(newEngine(t, cfg, backend), Options{Config: cfg, Store: store, Metrics: reg})
	t.Cleanup(g.Close)
	return g, reg
}

func embedReq(text string, cache CacheOptions) Request {
	return Request{Model: bgeSmall, Input: engine.Input{JSON: []byte(`{"text":"` + text + `"}`)}, Token: "tok-1", Cache: cache}
}

func TestCacheHitsOnlyCacheableRequestsThatAskForIt(t *testing.T) {
	backend := newFakeBackend()
	g, reg := newGateway(t, testConfig(), backend)
	ctx := testCtx(t)
	hour := CacheOptions{TTL: time.Hour}

	first, err := g.Run(ctx, embedReq("hello world", hour))
	if err != nil || first.CacheStatus != CacheMiss {
		t.Fatalf("first = %+v, %v; want a MISS", first, err)
	}
	second, err := g.Run(ctx, embedReq("hello world", hour))
	if err != nil || second.CacheStatus != CacheHit || string(second.JSON) != string(first.JSON) {
		t.Fatalf("second = %s %q, %v; want a HIT with the same body %s", second.JSON, second.CacheStatus, err, first.JSON)
	}
	if n := backend.count("hello world"); n != 1 {
		t.Fatalf("the model ran %d times; a HIT must not run it", n)
	}
	// Another parameter is another entry; so is the same input on another model.
	pooled := Request{Model: bgeSmall, Input: engine.Input{JSON: []byte(`{"text":"hello world","pooling":"cls"}`)}, Cache: hour}
	if r, _ := g.Run(ctx, pooled); r.CacheStatus != CacheMiss {
		t.Fatalf("cls pooling = %q, want MISS", r.CacheStatus)
	}
	if r, _ := g.Run(ctx, Request{Model: "@cf/baai/bge-base-en-v1.5", Input: embedReq("hello world", hour).Input, Cache: hour}); r.CacheStatus != CacheMiss {
		t.Fatalf("another model = %q, want MISS", r.CacheStatus)
	}
	// Without a TTL (and none configured) nothing is cached and no status is sent.
	if r, _ := g.Run(ctx, embedReq("hello world", CacheOptions{})); r.CacheStatus != "" {
		t.Fatalf("no TTL: status %q, want none", r.CacheStatus)
	}
	// Skipping the cache runs the model and reports a MISS.
	if r, _ := g.Run(ctx, embedReq("hello world", CacheOptions{TTL: time.Hour, Skip: true})); r.CacheStatus != CacheMiss {
		t.Fatalf("skip: status %q, want MISS", r.CacheStatus)
	}
	if n := backend.count("hello world"); n != 5 { // first, cls, bge-base, no TTL, skip
		t.Fatalf("runs of %q = %d, want 5", "hello world", n)
	}
	// A custom key serves whatever was stored under it, for any input.
	keyed := CacheOptions{TTL: time.Hour, Key: "greeting"}
	if _, err := g.Run(ctx, embedReq("first text", keyed)); err != nil {
		t.Fatal(err)
	}
	if r, _ := g.Run(ctx, embedReq("other text", keyed)); r.CacheStatus != CacheHit || backend.count("other text") != 0 {
		t.Fatalf("custom key: status %q, runs %d; want a HIT without running", r.CacheStatus, backend.count("other text"))
	}
	if got := counter(t, reg, "edgeinfer_cache_requests_total", "status", "hit"); got != 2 {
		t.Fatalf("cache hit metric = %v, want 2", got)
	}
}

func TestGenerationIsCachedOnlyWhenDeterministic(t *testing.T) {
	backend := newFakeBackend()
	cfg := testConfig()
	cfg.Gateway.CacheTTL = engine.Duration(time.Hour) // a configured default TTL
	g, _ := newGateway(t, cfg, backend)
	ctx := testCtx(t)
	llm := "@cf/meta/llama-2-7b-chat-int8"
	run := func(body string) Response {
		t.Helper()
		r, err := g.Run(ctx, Request{Model: llm, Input: engine.Input{JSON: []byte(body)}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Stream != nil {
			for range r.Stream.Events {
			}
		}
		return r
	}
	for range 2 {
		if r := run(`{"prompt":"tell a story"}`); r.CacheStatus != "" {
			t.Fatalf("sampled generation: status %q, want none", r.CacheStatus)
		}
	}
	if n := backend.count("tell a story"); n != 2 {
		t.Fatalf("sampled generation ran %d times, want 2", n)
	}
	run(`{"prompt":"seeded story","seed":42}`)
	if r := run(`{"seed":42,"prompt":"seeded story"}`); r.CacheStatus != CacheHit {
		t.Fatalf("seeded generation with keys reordered: status %q, want HIT", r.CacheStatus)
	}
	run(`{"prompt":"cold story","temperature":0}`)
	if r := run(`{"prompt":"cold story","temperature":0}`); r.CacheStatus != CacheHit {
		t.Fatalf("temperature 0: status %q, want HIT", r.CacheStatus)
	}
	if r := run(`{"prompt":"streamed story","seed":42,"stream":true}`); r.CacheStatus != "" || r.Stream == nil {
		t.Fatalf("stream: %+v, want an uncached stream", r)
	}
}

func TestRateLimitsPerTokenAndModel(t *testing.T) {
	backend := newFakeBackend()
	cfg := testConfig()
	cfg.Gateway.RateLimit = true
	cfg.Models[bgeSmall] = engine.ModelConfig{RPM: 2}
	g, _ := newGateway(t, cfg, backend)
	ctx := testCtx(t)
	for i := range 2 {
		if _, err := g.Run(ctx, embedReq("a", CacheOptions{})); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	_, err := g.Run(ctx, embedReq("a", CacheOptions{}))
	d := engine.Describe(err)
	if d.Status != 429 || d.RetryAfter <= 0 || !strings.Contains(d.Message, "2 requests per minute") {
		t.Fatalf("3rd request at 2 rpm: %+v, want 429 with Retry-After", d)
	}
	other := embedReq("a", CacheOptions{})
	other.Token = "tok-2"
	if _, err := g.Run(ctx, other); err != nil {
		t.Fatalf("another token was limited: %v", err)
	}
	// bge-base keeps the catalog's 3000 rpm.
	if _, err := g.Run(ctx, Request{Model: "@cf/baai/bge-base-en-v1.5", Input: embedReq("a", CacheOptions{}).Input, Token: "tok-1"}); err != nil {
		t.Fatalf("another model was limited: %v", err)
	}
}

func TestRateLimitsAreOffByDefault(t *testing.T) {
	cfg := testConfig()
	cfg.Models[bgeSmall] = engine.ModelConfig{RPM: 1}
	g, _ := newGateway(t, cfg, newFakeBackend())
	for i := range 5 {
		if _, err := g.Run(testCtx(t), embedReq("a", CacheOptions{})); err != nil {
			t.Fatalf("request %d with rate_limit off: %v", i+1, err)
		}
	}
}

func TestRPMFallsBackFromConfigToModelToTask(t *testing.T) {
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Models["@cf/baai/bge-base-en-v1.5"] = engine.ModelConfig{RPM: 10}
	for id, want := range map[string]int{
		"@cf/baai/bge-base-en-v1.5":     10,   // configured
		"@cf/baai/bge-large-en-v1.5":    1500, // the catalog's per-model figure
		"@cf/microsoft/phi-2":           720,
		bgeSmall:                        3000, // the task's
		"@cf/meta/m2m100-1.2b":          720,
		"@cf/meta/llama-2-7b-chat-int8": 300,
	} {
		e, _ := cat.Lookup(id)
		if got := rpmFor(cat, cfg, e); got != want {
			t.Errorf("%s: rpm %d, want %d", id, got, want)
		}
	}
}

func TestUsageIsReportedPerTokenHashAndMetered(t *testing.T) {
	backend := newFakeBackend()
	g, reg := newGateway(t, testConfig(), backend)
	ctx := testCtx(t)
	if _, err := g.Run(ctx, embedReq("one two three", CacheOptions{TTL: time.Hour})); err != nil { // 5 tokens
		t.Fatal(err)
	}
	if _, err := g.Run(ctx, embedReq("one two three", CacheOptions{TTL: time.Hour})); err != nil { // a HIT: no tokens
		t.Fatal(err)
	}
	stream, err := g.Run(ctx, Request{Model: "@cf/mistral/mistral-7b-instruct-v0.1", Token: "tok-1",
		Input: engine.Input{JSON: []byte(`{"prompt":"a b c","stream":true}`)}})
	if err != nil {
		t.Fatal(err)
	}
	for range stream.Stream.Events {
	}
	rep, err := g.Usage(ctx, "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(rep)
	if strings.Contains(string(raw), "tok-1") {
		t.Fatalf("the usage report reveals a raw token: %s", raw)
	}
	if len(rep.Callers) != 1 || rep.Callers[0].Caller != rep.Caller || rep.Caller != callerID("tok-1") {
		t.Fatalf("report = %s", raw)
	}
	emb := rep.Callers[0].Models[bgeSmall]
	if emb.Requests != 2 || emb.CachedRequests != 1 || emb.PromptTokens != 5 || emb.Neurons <= 0 {
		t.Fatalf("embeddings usage = %+v", emb)
	}
	gen := rep.Callers[0].Models["@cf/mistral/mistral-7b-instruct-v0.1"]
	if gen.PromptTokens != 5 || gen.CompletionTokens != 3 {
		t.Fatalf("streamed generation usage = %+v, want the stream's final counts", gen)
	}
	if rep.Callers[0].Total.Requests != 3 {
		t.Fatalf("total = %+v", rep.Callers[0].Total)
	}
	if got := counter(t, reg, "edgeinfer_usage_tokens_total", "kind", "prompt"); got != 10 {
		t.Fatalf("prompt token metric = %v, want 5 + 5", got)
	}
	if got := counter(t, reg, "edgeinfer_usage_neurons_total", "", ""); got <= 0 {
		t.Fatalf("neuron metric = %v", got)
	}
}

// counter sums the series of a counter in reg whose label has value (all
// series when label is "").
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if label == "" || (l.GetName() == label && l.GetValue() == value) {
					sum += m.GetCounter().GetValue()
					break
				}
			}
		}
	}
	return sum
}
