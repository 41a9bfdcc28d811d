// Package engine is edgeinfer's runtime: the model catalog, the one entry
// point Run, per-task input validation, the error vocabulary and model
// residency. HTTP surfaces and the CLI call Run; backends plug in through
// the Backend interface.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/engine/home"
)

// Input is what a caller hands to Run: JSON (a Workers AI input object),
// Binary (a raw request body, for image and audio models) or Value (an
// already-typed *EmbeddingsInput, *ImageInput, *TranslationInput,
// *TranscriptionInput or *GenerationInput). Speech recognition reads JSON
// beside Binary: the binding's other inputs when it streams the audio.
type Input struct {
	JSON   []byte
	Binary []byte
	Value  any
}

// RunOptions are the per-request options of the binding's third argument
// and the REST body's top-level "options".
type RunOptions struct {
	RejectIfBusy bool
	// LowPriority marks the items of an async batch job: schedulers pack
	// them only when no interactive item is waiting.
	LowPriority bool
	// KeepAliveFor, when set, replaces the model's keep-alive after this
	// request (as Ollama's keep_alive does); negative keeps it loaded.
	KeepAliveFor *time.Duration
}

// KeepAlive returns the request's keep-alive override, if any.
func (o RunOptions) KeepAlive() (time.Duration, bool) {
	if o.KeepAliveFor == nil {
		return 0, false
	}
	return *o.KeepAliveFor, true
}

type optionsKey struct{}

// WithOptions attaches request options to ctx for the backends to read.
func WithOptions(ctx context.Context, o RunOptions) context.Context {
	return context.WithValue(ctx, optionsKey{}, o)
}

// OptionsFrom returns the request options attached to ctx.
func OptionsFrom(ctx context.Context) RunOptions {
	o, _ := ctx.Value(optionsKey{}).(RunOptions)
	return o
}

// loadRetryCooldown is how long a failed load is remembered before the next
// request tries again.
const loadRetryCooldown = 10 * time.Second

// Engine serves models from a catalog through registered backends.
type Engine struct {
	catalog  *Catalog
	cfg      Config
	backends map[string]Backend
	metrics  *Metrics
	log      *slog.Logger

	paths home.Paths // resolved from cfg once, handed to every backend

	mu       sync.Mutex
	resident map[string]*resident
	closed   bool // set by Close: no load starts after it
	stop     chan struct{}
	stopOnce sync.Once
	stopped  chan struct{}
}

// New builds an engine over a catalog, applying cfg.Models overrides and
// custom models, with backends keyed by kind.
func New(cat *Catalog, cfg Config, backends map[string]Backend, log *slog.Logger) (*Engine, error) {
	if log == nil {
		log = slog.Default()
	}
	for id, mc := range cfg.Models {
		if err := applyModelConfig(cat, id, mc); err != nil {
			return nil, err
		}
	}
	e := &Engine{catalog: cat, cfg: cfg, paths: cfg.Paths(), backends: maps.Clone(backends), metrics: NewMetrics(),
		log: log, resident: map[string]*resident{}, stop: make(chan struct{}), stopped: make(chan struct{})}
	go e.reapIdle()
	return e, nil
}

// applyModelConfig adds a custom model, or checks an override's target.
func applyModelConfig(cat *Catalog, id string, mc ModelConfig) error {
	if e, ok := cat.Lookup(id); ok {
		if mc.Task != "" && mc.Task != e.Task {
			return fmt.Errorf("models.%q: task %q differs from the catalog's %q", id, mc.Task, e.Task)
		}
		if mc.Backend != "" {
			e.Backend = mc.Backend
		}
		return nil
	}
	if mc.Task == "" || mc.Backend == "" {
		return fmt.Errorf("models.%q: not in the catalog, so it needs task and backend", id)
	}
	desc := mc.Description
	if desc == "" {
		desc = "Custom model"
	}
	return cat.Add(&Entry{ID: id, Task: mc.Task, Backend: mc.Backend, Description: desc, Source: 1,
		Properties: map[string]string{}, UUID: "custom-" + id})
}

// Catalog returns the engine's catalog.
func (e *Engine) Catalog() *Catalog { return e.catalog }

// Metrics returns the engine's Prometheus series.
func (e *Engine) Metrics() *Metrics { return e.metrics }

// Config returns the configuration the engine was built with.
func (e *Engine) Config() Config { return e.cfg }

// Spec returns the load spec of a catalog entry.
func (e *Engine) Spec(entry *Entry) ModelSpec {
	return ModelSpec{Entry: entry, Config: e.cfg.ForModel(entry.ID), Paths: e.paths, Metrics: e.metrics}
}

// Run is the one way into the engine: it resolves the model, validates the
// input against the model's task schema, loads the model if needed and runs
// it. The output is *EmbeddingsOutput, []Classification, *TranslationOutput,
// *Transcription, *GenerationOutput or, for stream:true, *TextStream. Errors are *Error (or
// context errors), ready for Describe.
func (e *Engine) Run(ctx context.Context, modelID string, in Input) (out any, err error) {
	entry, value, err := e.Decode(modelID, in)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	inFlight := e.metrics.InFlight.WithLabelValues(entry.ID)
	inFlight.Inc()
	defer func() {
		inFlight.Dec()
		e.metrics.RequestSeconds.WithLabelValues(entry.ID).Observe(time.Since(start).Seconds())
		e.metrics.Requests.WithLabelValues(entry.ID, strconv.Itoa(Describe(err).Status)).Inc()
		if err != nil && KindOf(err) == KindInternal {
			e.log.Error("inference failed", "model", entry.ID, "err", err)
		}
	}()
	model, release, err := e.acquire(ctx, entry)
	if err != nil {
		return nil, err
	}
	out, err = dispatch(ctx, model, entry, value)
	if err != nil {
		release()
		return nil, normalizeError(err)
	}
	if stream, ok := out.(*TextStream); ok {
		// The model stays in use, and unevictable, until the stream ends.
		out = stream.onClose(release)
	} else {
		release()
	}
	return out, normalizeError(err)
}

// Decode resolves modelID and validates in against the model's task schema
// without loading or running anything. It returns the catalog entry and the
// typed input, which Run accepts as Input.Value.
func (e *Engine) Decode(modelID string, in Input) (*Entry, any, error) {
	entry, err := e.catalog.Resolve(modelID)
	if err != nil {
		return nil, nil, err
	}
	if entry.Retired != "" && e.cfg.Server.RetiredModels == RetiredRefuse {
		// What Workers AI answers for an ID it no longer serves.
		return nil, nil, &Error{Kind: KindUnknownModel, Message: fmt.Sprintf("No such model %s or task", modelID)}
	}
	value, err := decodeInput(entry, in)
	if err != nil {
		return nil, nil, err
	}
	return entry, value, nil
}

// InField re-roots a bad-input or too-large error found in a nested input,
// so that "'text': must not be empty" in the fourth item of an async batch
// reads "'requests[3].text': must not be empty". Other errors are returned
// unchanged.
func InField(err error, prefix string) error {
	var e *Error
	if !errors.As(err, &e) || (e.Kind != KindBadInput && e.Kind != KindTooLarge) {
		return err
	}
	field := prefix
	if e.Field != "" && e.Field != "/" {
		field = prefix + "." + e.Field
	}
	lead := "AiError: Bad input: "
	if e.Kind == KindTooLarge {
		lead = "Request is too large: "
	}
	detail := strings.TrimPrefix(e.Message, lead)
	if e.Field != "" {
		detail = strings.TrimPrefix(detail, "'"+e.Field+"': ")
	}
	return &Error{Kind: e.Kind, Field: field, Message: fmt.Sprintf("%s'%s': %s", lead, field, detail), Err: e.Err}
}

// normalizeError keeps *Error and context errors, and marks anything else
// internal so no backend detail reaches a client.
func normalizeError(err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return Internal(err)
}

func decodeInput(entry *Entry, in Input) (any, error) {
	task := entry.Task
	if in.Value != nil {
		return in.Value, nil
	}
	if task == TaskSpeechRecognition && (in.Binary != nil || in.JSON != nil) {
		return decodeTranscription(entry, in.Binary, in.JSON)
	}
	if in.Binary != nil {
		switch task {
		case TaskImageClassification:
			return checkImageBytes(in.Binary)
		case TaskImageToText:
			if err := checkIsImage("image", in.Binary); err != nil {
				return nil, err
			}
			return imageToTextDefaults(in.Binary, generationLimitsOf(entry)), nil
		}
		return nil, BadInput("/", "this model takes a JSON object, not a binary body")
	}
	if in.JSON == nil {
		return nil, &Error{Kind: KindIncomplete, Message: "Request is missing headers or body: body"}
	}
	switch task {
	case TaskTextEmbeddings:
		switch entry.Schema {
		case "bge-m3":
			return decodeBGEM3(in.JSON)
		case "qwen3-embedding":
			return decodeQwen3Embedding(in.JSON)
		case "embeddinggemma":
			return decodeEmbeddingGemma(in.JSON)
		}
		return decodeEmbeddings(in.JSON)
	case TaskTextClassification:
		if entry.Schema == "rerank" {
			f, err := parseObject("", in.JSON)
			if err != nil {
				return nil, err
			}
			return decodeRerank(f, true)
		}
		return decodeTextClassification(in.JSON)
	case TaskImageClassification:
		return decodeImageJSON(in.JSON)
	case TaskTranslation:
		return decodeTranslation(in.JSON)
	case TaskTextGeneration:
		return decodeGenerationWith(in.JSON, generationLimitsOf(entry))
	case TaskImageToText:
		return decodeImageToText(in.JSON, generationLimitsOf(entry))
	}
	return nil, Internal(fmt.Errorf("no decoder for task %q", task))
}

// dispatch calls the task interface that matches value's type.
func dispatch(ctx context.Context, model Model, entry *Entry, value any) (any, error) {
	wrong := func(want string) error {
		return Internal(fmt.Errorf("model of type %T does not implement %s", model, want))
	}
	switch v := value.(type) {
	case *EmbeddingsInput:
		m, ok := model.(Embedder)
		if !ok {
			return nil, wrong("Embedder")
		}
		return m.Embed(ctx, v)
	case *ContextEmbeddingsInput:
		m, ok := model.(Embedder)
		if !ok {
			return nil, wrong("Embedder")
		}
		emb, err := m.Embed(ctx, &v.EmbeddingsInput)
		if err != nil {
			return nil, renameTextField(err, func(i int) string { return indexPath("contexts", i) + ".text" })
		}
		return &ContextEmbeddingsOutput{Response: emb.Data, Shape: emb.Shape, Pooling: emb.Pooling, PromptTokens: emb.PromptTokens}, nil
	case *RerankInput:
		return rerank(ctx, model, v)
	case *TextClassificationInput:
		m, ok := model.(TextClassifier)
		if !ok {
			return nil, wrong("TextClassifier")
		}
		return m.ClassifyText(ctx, v)
	case *ImageInput:
		m, ok := model.(Classifier)
		if !ok {
			return nil, wrong("Classifier")
		}
		return m.Classify(ctx, v)
	case *TranslationInput:
		m, ok := model.(Translator)
		if !ok {
			return nil, wrong("Translator")
		}
		return m.Translate(ctx, v)
	case *TranscriptionInput:
		m, ok := model.(Transcriber)
		if !ok {
			return nil, wrong("Transcriber")
		}
		return transcribe(ctx, m, entry, v)
	case *ImageToTextInput:
		m, ok := model.(Generator)
		if !ok {
			return nil, wrong("Generator")
		}
		return describeImage(ctx, m, v)
	case *GenerationInput:
		m, ok := model.(Generator)
		if !ok {
			return nil, wrong("Generator")
		}
		if v.Stream {
			return startStream(ctx, m, v)
		}
		return m.Generate(ctx, v, func(string) error { return nil })
	}
	return nil, Internal(fmt.Errorf("unsupported input type %T", value))
}

// startStream runs a generation in the background, turning pieces into
// events. It waits for the first event, so a request refused before any
// output (capacity, context window, model not installed) fails Run with its
// own status instead of reaching the client as an error event after a 200.
// The goroutine ends when generation ends or ctx is cancelled.
func startStream(ctx context.Context, g Generator, in *GenerationInput) (*TextStream, error) {
	ch := make(chan StreamEvent, 16)
	go func() {
		defer close(ch)
		send := func(ev StreamEvent) error {
			select {
			case ch <- ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		in.OnReasoning = func(piece string) error { return send(StreamEvent{Reasoning: piece}) }
		out, err := g.Generate(ctx, in, func(piece string) error { return send(StreamEvent{Response: piece}) })
		if err != nil {
			_ = send(StreamEvent{Err: normalizeError(err)})
			return
		}
		_ = send(StreamEvent{Usage: &out.Usage, ToolCalls: out.ToolCalls})
	}()
	var first StreamEvent
	select {
	case ev, ok := <-ch:
		if !ok {
			return nil, ctx.Err()
		}
		first = ev
	case <-ctx.Done():
		go func() {
			for range ch {
			}
		}()
		return nil, ctx.Err()
	}
	if first.Err != nil {
		for range ch {
		}
		return nil, first.Err
	}
	events := make(chan StreamEvent, 16)
	go func() {
		defer close(events)
		events <- first
		for ev := range ch {
			events <- ev
		}
	}()
	return &TextStream{Events: events}, nil
}

// backendFor returns the backend of an entry or a not-installed error.
func (e *Engine) backendFor(entry *Entry) (Backend, error) {
	b, ok := e.backends[entry.Backend]
	if !ok {
		return nil, &Error{Kind: KindNotInstalled,
			Message: fmt.Sprintf("Model %s is not available: backend %q is not part of this build of edgeinfer", entry.ID, entry.Backend)}
	}
	return b, nil
}

// Status is a model's installation state, for listings.
type Status struct {
	Entry        *Entry
	Installed    bool
	Installation Installation
	// Problem explains why the model is not installed.
	Problem string
}

// Status checks one model's installation without loading it.
func (e *Engine) Status(ctx context.Context, entry *Entry) Status {
	b, err := e.backendFor(entry)
	if err != nil {
		return Status{Entry: entry, Problem: Describe(err).Message}
	}
	inst, err := b.Check(ctx, e.Spec(entry))
	if err != nil {
		return Status{Entry: entry, Problem: Describe(err).Message}
	}
	return Status{Entry: entry, Installed: true, Installation: inst}
}

// Ready reports whether the engine can serve: the catalog is loaded and at
// least one backend is registered.
func (e *Engine) Ready() error {
	if e.catalog == nil || len(e.catalog.Entries()) == 0 {
		return errors.New("catalog not loaded")
	}
	if len(e.backends) == 0 {
		return errors.New("no backends registered")
	}
	return nil
}
