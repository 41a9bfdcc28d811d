package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sync"
	"unicode/utf8"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/prometheus/client_golang/prometheus"
)

// Usage is what requests consumed, in Workers AI's billing units, with a
// neurons estimate from Workers AI's published rates.
type Usage struct {
	Requests         int64 `json:"requests"`
	CachedRequests   int64 `json:"cached_requests"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	Images           int64 `json:"images"`
	CharactersIn     int64 `json:"characters_in"`
	CharactersOut    int64 `json:"characters_out"`
	// AudioSeconds is the length of the audio transcribed.
	AudioSeconds float64 `json:"audio_seconds"`
	// Neurons is an estimate: what Workers AI would bill for the same work.
	Neurons float64 `json:"neurons"`
}

// Add accumulates u into a.
func (a *Usage) Add(u Usage) {
	a.Requests += u.Requests
	a.CachedRequests += u.CachedRequests
	a.PromptTokens += u.PromptTokens
	a.CompletionTokens += u.CompletionTokens
	a.Images += u.Images
	a.CharactersIn += u.CharactersIn
	a.CharactersOut += u.CharactersOut
	a.AudioSeconds += u.AudioSeconds
	a.Neurons += u.Neurons
}

// neuronRate is a model's price in neurons per million units, or per
// audio minute.
type neuronRate struct {
	perMIn, perMOut, perMImages float64
	perAudioMinute              float64
}

// neuronRates are Workers AI's published rates (neurons per million input
// and output tokens, or per million images), from its pricing page.
var neuronRates = map[string]neuronRate{
	"@cf/baai/bge-small-en-v1.5":           {perMIn: 1841},
	"@cf/baai/bge-base-en-v1.5":            {perMIn: 6058},
	"@cf/baai/bge-large-en-v1.5":           {perMIn: 18582},
	"@cf/microsoft/resnet-50":              {perMImages: 228055},
	"@cf/meta/m2m100-1.2b":                 {perMIn: 31050, perMOut: 31050},
	"@cf/mistral/mistral-7b-instruct-v0.1": {perMIn: 10000, perMOut: 17300},
	// The newer models' JSONs give a dollar price per million input tokens;
	// at $0.011 per 1,000 neurons: bge-m3 $0.0118, qwen3-embedding $0.012.
	"@cf/baai/bge-m3":               {perMIn: 1073},
	"@cf/qwen/qwen3-embedding-0.6b": {perMIn: 1091},
	// whisper-large-v3-turbo's JSON: $0.00051 per audio minute. The other
	// two Whisper IDs publish no price.
	"@cf/openai/whisper-large-v3-turbo": {perAudioMinute: 0.00051 / 0.011 * 1000},
}

// assumedLLMRate prices the text-generation models whose rate the docs
// give none for (llama-2-7b/13b, codellama, phi-2, gemma, custom ones):
// mistral-7b-instruct-v0.1's, the one published rate for a model of this
// generation and size.
var assumedLLMRate = neuronRate{perMIn: 10000, perMOut: 17300}

// charsPerToken estimates translation tokens from characters: the engine's
// translation result carries no token counts, and ~4 characters per token
// is the usual estimate for SentencePiece on European text.
const charsPerToken = 4

// rateFor returns the neuron rate of a model: its published one, the
// assumed one for any other text-generation model, none otherwise (custom
// embedders, classifiers and translators).
func rateFor(entry *engine.Entry) (neuronRate, bool) {
	if r, ok := neuronRates[entry.ID]; ok {
		return r, true
	}
	if entry.Task == engine.TaskTextGeneration {
		return assumedLLMRate, true
	}
	return neuronRate{}, false
}

// usageOf measures one successful inference.
func usageOf(entry *engine.Entry, in, out any) Usage {
	u := Usage{Requests: 1}
	switch o := out.(type) {
	case *engine.EmbeddingsOutput:
		u.PromptTokens = int64(o.PromptTokens)
	case *engine.ContextEmbeddingsOutput:
		u.PromptTokens = int64(o.PromptTokens)
	case *engine.RerankOutput:
		u.PromptTokens = int64(o.PromptTokens)
	case *engine.TextClassificationOutput:
		u.PromptTokens = int64(o.PromptTokens)
	case []engine.Classification:
		u.Images = 1
	case *engine.TranslationOutput:
		if t, ok := in.(*engine.TranslationInput); ok {
			u.CharactersIn = int64(utf8.RuneCountInString(t.Text))
		}
		u.CharactersOut = int64(utf8.RuneCountInString(o.TranslatedText))
	case *engine.Transcription:
		if o.TranscriptionOutput != nil {
			u.AudioSeconds = o.Duration
		}
	case *engine.GenerationOutput:
		u.PromptTokens, u.CompletionTokens = int64(o.Usage.PromptTokens), int64(o.Usage.CompletionTokens)
	case *engine.Usage: // the final event of a stream
		u.PromptTokens, u.CompletionTokens = int64(o.PromptTokens), int64(o.CompletionTokens)
	}
	u.Neurons = neurons(entry, u)
	return u
}

// neurons estimates what Workers AI would bill for u.
func neurons(entry *engine.Entry, u Usage) float64 {
	r, ok := rateFor(entry)
	if !ok {
		return 0
	}
	in, out := float64(u.PromptTokens), float64(u.CompletionTokens)
	if entry.Task == engine.TaskTranslation {
		in = math.Ceil(float64(u.CharactersIn) / charsPerToken)
		out = math.Ceil(float64(u.CharactersOut) / charsPerToken)
	}
	return (in*r.perMIn+out*r.perMOut+float64(u.Images)*r.perMImages)/1e6 + u.AudioSeconds/60*r.perAudioMinute
}

// callerID names an API token in usage reports and job records without
// revealing it: a short SHA-256 prefix, or "anonymous" without a token.
func callerID(token string) string {
	if token == "" {
		return "anonymous"
	}
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// Ledger keeps usage per caller and model.
type Ledger interface {
	Add(ctx context.Context, caller, model string, u Usage) error
	// Report returns usage by caller, then by model.
	Report(ctx context.Context) (map[string]map[string]Usage, error)
}

// memoryLedger is the one-server Ledger; it starts empty with the process,
// as the Prometheus counters do.
type memoryLedger struct {
	mu sync.Mutex
	m  map[string]map[string]Usage
}

func newMemoryLedger() *memoryLedger { return &memoryLedger{m: map[string]map[string]Usage{}} }

func (l *memoryLedger) Add(_ context.Context, caller, model string, u Usage) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	byModel := l.m[caller]
	if byModel == nil {
		byModel = map[string]Usage{}
		l.m[caller] = byModel
	}
	sum := byModel[model]
	sum.Add(u)
	byModel[model] = sum
	return nil
}

func (l *memoryLedger) Report(context.Context) (map[string]map[string]Usage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]map[string]Usage, len(l.m))
	for caller, byModel := range l.m {
		cp := make(map[string]Usage, len(byModel))
		for model, u := range byModel {
			cp[model] = u
		}
		out[caller] = cp
	}
	return out, nil
}

// metrics are the gateway's Prometheus series, registered beside the
// engine's so one /metrics serves both.
type metrics struct {
	tokens      *prometheus.CounterVec // model, kind
	images      *prometheus.CounterVec // model
	characters  *prometheus.CounterVec // model, direction
	audio       *prometheus.CounterVec // model
	neurons     *prometheus.CounterVec // model
	cache       *prometheus.CounterVec // model, status
	rateLimited *prometheus.CounterVec // model
	jobs        *prometheus.CounterVec // model, event
	jobItems    *prometheus.CounterVec // model, result
}

func newMetrics(reg prometheus.Registerer) *metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &metrics{
		tokens:      counter("edgeinfer_usage_tokens_total", "Tokens processed, by model and kind (prompt, completion).", "model", "kind"),
		images:      counter("edgeinfer_usage_images_total", "Images classified, by model.", "model"),
		characters:  counter("edgeinfer_usage_characters_total", "Characters translated, by model and direction (in, out).", "model", "direction"),
		audio:       counter("edgeinfer_usage_audio_seconds_total", "Seconds of audio transcribed, by model.", "model"),
		neurons:     counter("edgeinfer_usage_neurons_total", "Estimated Workers AI neurons, from its published rates.", "model"),
		cache:       counter("edgeinfer_cache_requests_total", "Cacheable requests by model and cache status (hit, miss).", "model", "status"),
		rateLimited: counter("edgeinfer_rate_limited_total", "Requests refused by a rate limit, by model.", "model"),
		jobs:        counter("edgeinfer_batch_jobs_total", "Async batch jobs by model and event (submitted, finished).", "model", "event"),
		jobItems:    counter("edgeinfer_batch_items_total", "Async batch items run, by model and result (success, failure).", "model", "result"),
	}
	if reg != nil {
		reg.MustRegister(m.tokens, m.images, m.characters, m.audio, m.neurons, m.cache, m.rateLimited, m.jobs, m.jobItems)
	}
	return m
}

func (m *metrics) observe(model string, u Usage) {
	if u.PromptTokens > 0 {
		m.tokens.WithLabelValues(model, "prompt").Add(float64(u.PromptTokens))
	}
	if u.CompletionTokens > 0 {
		m.tokens.WithLabelValues(model, "completion").Add(float64(u.CompletionTokens))
	}
	if u.Images > 0 {
		m.images.WithLabelValues(model).Add(float64(u.Images))
	}
	if u.CharactersIn > 0 {
		m.characters.WithLabelValues(model, "in").Add(float64(u.CharactersIn))
	}
	if u.CharactersOut > 0 {
		m.characters.WithLabelValues(model, "out").Add(float64(u.CharactersOut))
	}
	if u.AudioSeconds > 0 {
		m.audio.WithLabelValues(model).Add(u.AudioSeconds)
	}
	if u.Neurons > 0 {
		m.neurons.WithLabelValues(model).Add(u.Neurons)
	}
}
