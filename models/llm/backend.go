// Package llm serves the catalog's text-generation models through Ollama,
// driven with its native API: Workers AI inputs become chat or raw
// completion requests, generated pieces stream back as they come, and
// usage comes from Ollama's own counts. The backend starts (or attaches to)
// the Ollama server lazily on first use and stops a server it started once
// no model uses it.
//
// Which Ollama model serves an ID: the tag set in the config
// (models."@cf/…".ollama), else the catalog's artifacts.ollama, when Ollama
// has it; else the synthetic Llama of the demo set
// ($EDGEINFER_HOME/models/@edgeinfer/llama-synthetic), created in Ollama on
// first use; else the model is not installed and `edgeinfer pull ID` pulls
// the tag through Ollama.
package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/envconfig"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/llm/ollamaserver"
)

// Kind is the catalog backend name.
const Kind = "ollama"

// Concurrency defaults. A managed server serves defaultParallel requests of
// a model at once (OLLAMA_NUM_PARALLEL); Ollama batches them itself, and
// four streams share a CPU's throughput well (four parallel streams of the
// synthetic Llama measured ~2,300 tokens/s together against ~2,400 for one). An external
// server is assumed to run Ollama's default of one unless the model's
// max_batch_size or OLLAMA_NUM_PARALLEL says otherwise. Up to
// queuePerSlot requests per slot wait before new ones get 429.
const (
	defaultParallel         = 4
	externalDefaultParallel = 1
	queuePerSlot            = 16
)

// checkTimeout bounds the calls Check makes to a server.
const checkTimeout = 5 * time.Second

// Backend loads LLMs into Ollama. Use it as a pointer: its models share one
// Ollama server.
type Backend struct {
	// URL names an Ollama server to use (the config's server.ollama_host).
	// Empty: OLLAMA_HOST when a server answers there, else a managed one.
	URL string
	// Logger receives the managed server's lifecycle events, and its own
	// log at debug level; nil means slog.Default().
	Logger *slog.Logger

	mu       sync.Mutex
	srv      *ollamaserver.Server
	parallel int // the managed server's OLLAMA_NUM_PARALLEL
	users    int
	tags     map[string]int // tags of loaded models and adapters, by how many models use them

	answered sync.Map // model IDs whose answering model was logged (logAnswer)
}

// Backend is registered as an engine.Backend, and `edgeinfer pull` hands it
// LLMs as an engine.LLMPuller; the build fails if a method goes missing.
var (
	_ engine.Backend   = (*Backend)(nil)
	_ engine.LLMPuller = (*Backend)(nil)
)

// Check implements engine.Backend: it finds the Ollama tag that would serve
// spec's model without starting a server or loading anything.
func (b *Backend) Check(ctx context.Context, spec engine.ModelSpec) (engine.Installation, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	src, err := b.resolve(ctx, spec)
	if err != nil {
		return engine.Installation{}, err
	}
	// A model the Ollama in use is too old for is not installed, whatever
	// stands in for it: asked of the server in use, or, without one, read
	// from the managed binary's recorded version, so listing starts nothing.
	err = refuseOldOllama(spec, func() (string, error) {
		client, err := b.clientForCheck(ctx, spec.Paths)
		if err != nil || client == nil {
			return installedOllamaVersion(spec.Paths), nil
		}
		have, err := client.Version(ctx)
		if err != nil {
			return "", ollamaUnreachable(err)
		}
		return have, nil
	})
	if err != nil {
		return engine.Installation{}, err
	}
	return engine.Installation{Synthetic: src.Synthetic, Source: "ollama:" + src.Tag, Bytes: src.Bytes}, nil
}

// Load implements engine.Backend: it starts or attaches to the Ollama
// server, creates the synthetic model's tag if needed, and loads the model
// into Ollama with the options every request will use.
func (b *Backend) Load(ctx context.Context, spec engine.ModelSpec) (engine.Model, error) {
	src, err := b.resolve(ctx, spec)
	if err != nil {
		return nil, err
	}
	configured := configuredParallel(spec)
	srv, err := b.acquire(ctx, spec.Paths, max(configured, defaultParallel))
	if err != nil {
		return nil, err
	}
	m, err := b.load(ctx, spec, srv, src, configured)
	if err != nil {
		b.release()
		return nil, err
	}
	return m, nil
}

func (b *Backend) load(ctx context.Context, spec engine.ModelSpec, srv *ollamaserver.Server, src source, slots int) (*model, error) {
	client := srv.Client()
	switch {
	case slots == 0 && srv.Managed():
		slots = defaultParallel
	case slots == 0:
		slots = externalDefaultParallel
	case srv.Managed() && slots > b.serverParallel():
		b.logger().Warn("ollama: the model's max_batch_size exceeds the managed server's parallel slots; extra requests wait inside Ollama",
			"model", spec.Entry.ID, "max_batch_size", slots, "ollama_parallel", b.serverParallel())
	}
	if err := checkOllamaVersion(ctx, client, spec); err != nil {
		return nil, err
	}
	b.logAnswer(spec, src)
	if src.Synthetic {
		if err := ollamaserver.EnsureModel(ctx, client, src.Tag, src.Dir); err != nil {
			return nil, err
		}
	}
	show, err := client.Show(ctx, &api.ShowRequest{Model: src.Tag})
	if isNotFound(err) {
		return nil, &engine.Error{Kind: engine.KindNotInstalled,
			Message: fmt.Sprintf("Model %s is not installed: run `edgeinfer pull %s`", spec.Entry.ID, spec.Entry.ID), Err: err}
	} else if err != nil {
		return nil, ollamaUnreachable(err)
	}
	plan := requestPlan{
		Tag:         src.Tag,
		Runner:      runnerOptions{NumCtx: contextWindow(spec.Entry, show), NumThread: numThread(spec, srv.Managed())},
		NativeTools: hasCapability(show, "tools"),
		Guard:       spec.Entry.Output == guardOutput,
		Vision:      hasCapability(show, "vision"),
		Synthetic:   src.Synthetic,
		Thinking:    hasCapability(show, "thinking"),
		// gpt-oss thinks at a level; Ollama names its architecture gptoss.
		EffortLevels: strings.Contains(strings.ToLower(show.Details.Family), "gptoss"),
		Model:        spec.Entry.ID,
	}
	if srv.Managed() {
		// The engine decides residency: the model stays in Ollama until the
		// engine unloads it (Close), instead of Ollama's own 5 minutes.
		plan.KeepAlive = &api.Duration{Duration: -1}
	}
	// An empty prompt makes Ollama load the model with the runner options,
	// so load failures surface here and the first request does not pay for it.
	preload := &api.GenerateRequest{Model: src.Tag, Options: sampling(&engine.GenerationInput{MaxTokens: 1}, plan.Runner), KeepAlive: plan.KeepAlive}
	if err := client.Generate(ctx, preload, func(api.GenerateResponse) error { return nil }); err != nil {
		return nil, fmt.Errorf("ollama: load %s: %w", src.Tag, err)
	}
	maxRequests := spec.Config.MaxConcurrentRequests
	if maxRequests == 0 {
		maxRequests = queuePerSlot * slots
	}
	b.useTag(src.Tag)
	return &model{
		backend: b, id: spec.Entry.ID, srv: srv, plan: plan,
		slots: batch.NewSlots(batch.SlotsConfig{Slots: slots, MaxConcurrentRequests: maxRequests, Model: spec.Entry.ID, Metrics: spec.Metrics}),
		loras: newAdapters(spec),
	}, nil
}

// configuredParallel is how many requests of the model Ollama is said to
// serve at once: the model's max_batch_size, else OLLAMA_NUM_PARALLEL; 0
// when neither is set.
func configuredParallel(spec engine.ModelSpec) int {
	if n := spec.Config.MaxBatchSize; n > 0 {
		return n
	}
	if n, err := strconv.Atoi(os.Getenv("OLLAMA_NUM_PARALLEL")); err == nil && n > 0 {
		return n
	}
	return 0
}

// numThread is the model's intra_op_threads, else, for a managed server,
// one less than the CPUs edgeinfer may use (at least one): llama.cpp's
// threads spin at barriers, so one thread more than the free cores
// collapses throughput (measured on 2 busy cores: 12 tokens/s with two
// threads, 1,300 with one), and edgeinfer and its other models need a core
// too. An external server keeps its own setting.
func numThread(spec engine.ModelSpec, managed bool) int {
	if n := spec.Config.IntraOpThreads; n > 0 {
		return n
	}
	if managed {
		return max(1, runtime.NumCPU()-1)
	}
	return 0
}

// contextWindow is the catalog's context window, capped by the one the
// model was trained with (which Ollama caps num_ctx at anyway).
func contextWindow(entry *engine.Entry, show *api.ShowResponse) int {
	window, _ := strconv.Atoi(entry.Properties["context_window"])
	for k, v := range show.ModelInfo {
		if !strings.HasSuffix(k, ".context_length") {
			continue
		}
		if trained, ok := v.(float64); ok && trained > 0 && (window == 0 || int(trained) < window) {
			window = int(trained)
		}
	}
	return window
}

func hasCapability(show *api.ShowResponse, c string) bool {
	for _, have := range show.Capabilities {
		if string(have) == c {
			return true
		}
	}
	return false
}

// serverParallel is the managed server's OLLAMA_NUM_PARALLEL.
func (b *Backend) serverParallel() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.parallel
}

// acquire returns the backend's server, starting or attaching to it on
// first use (a managed one with numParallel slots per model); each call
// must be matched by release.
func (b *Backend) acquire(ctx context.Context, paths home.Paths, numParallel int) (*ollamaserver.Server, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		srv, err := ollamaserver.Start(ctx, ollamaserver.Options{
			URL: b.URL, Home: paths.Home, Binary: paths.OllamaBin, NumParallel: numParallel, Logger: b.serverLogger(),
		})
		if err != nil {
			return nil, runtimeMissing(err)
		}
		b.srv, b.parallel = srv, numParallel
	}
	b.users++
	return b.srv, nil
}

// release drops one use of the server and stops a managed server when no
// model uses it any more.
func (b *Backend) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users--
	if b.users > 0 || b.srv == nil {
		return
	}
	srv := b.srv
	b.srv = nil
	if err := srv.Close(); err != nil {
		b.logger().Warn("ollama: stopping the server failed", "err", err)
	}
}

// useTag and dropTag count the loaded models using a tag; dropTag reports
// whether the last one left.
func (b *Backend) useTag(tag string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tags == nil {
		b.tags = map[string]int{}
	}
	b.tags[tag]++
}

func (b *Backend) dropTag(tag string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tags[tag]--
	if b.tags[tag] > 0 {
		return false
	}
	delete(b.tags, tag)
	return true
}

// clientForCheck returns a client for the server Check should ask: the one
// in use, the configured one, or one answering at OLLAMA_HOST. It returns
// nil when a managed server would be started, after checking that the
// binary to start is installed.
func (b *Backend) clientForCheck(ctx context.Context, paths home.Paths) (*api.Client, error) {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	switch {
	case srv != nil:
		return srv.Client(), nil
	case b.URL != "":
		u, err := url.Parse(b.URL)
		if err != nil || u.Host == "" {
			return nil, &engine.Error{Kind: engine.KindNotInstalled, Message: fmt.Sprintf("server.ollama_host %q is not a URL", b.URL)}
		}
		return api.NewClient(u, ollamaserver.HTTPClient), nil
	case strings.TrimSpace(os.Getenv("OLLAMA_HOST")) != "":
		c := api.NewClient(envconfig.Host(), ollamaserver.HTTPClient)
		if _, err := c.Version(ctx); err == nil {
			return c, nil
		}
	}
	if _, err := os.Stat(paths.OllamaBin); err != nil {
		return nil, runtimeMissing(err)
	}
	return nil, nil
}

func runtimeMissing(err error) error {
	return &engine.Error{Kind: engine.KindNotInstalled, Err: err,
		Message: "Ollama is not available: run `make setup` to install it, or set OLLAMA_HOST to a running Ollama server"}
}

func ollamaUnreachable(err error) error {
	return &engine.Error{Kind: engine.KindNotInstalled, Err: err, Message: "The Ollama server does not answer"}
}

func (b *Backend) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

// serverLogger passes the managed server's warnings and errors on, and its
// chatty log (a line per request) only at debug level.
func (b *Backend) serverLogger() *slog.Logger {
	return slog.New(quietInfo{b.logger().Handler()})
}

// quietInfo logs info records at debug level.
type quietInfo struct{ slog.Handler }

func (q quietInfo) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelInfo {
		l = slog.LevelDebug
	}
	return q.Handler.Enabled(ctx, l)
}

func (q quietInfo) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietInfo) WithAttrs(a []slog.Attr) slog.Handler { return quietInfo{q.Handler.WithAttrs(a)} }
func (q quietInfo) WithGroup(n string) slog.Handler      { return quietInfo{q.Handler.WithGroup(n)} }

var errEndedEarly = errors.New("ollama ended the stream without finishing the generation")
