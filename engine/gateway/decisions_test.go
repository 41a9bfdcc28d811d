package gateway

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

func TestTake(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name       string
		b          bucket
		now        time.Time
		rpm        int
		wantTokens float64
		wantWait   time.Duration
	}{
		{"a new bucket is full", bucket{}, t0, 60, 59, 0},
		{"spends one", bucket{tokens: 5, at: t0}, t0, 60, 4, 0},
		{"empty waits for one token", bucket{tokens: 0, at: t0}, t0, 60, 0, time.Second},
		{"half a token waits half the interval", bucket{tokens: 0.5, at: t0}, t0, 60, 0.5, 500 * time.Millisecond},
		{"refills with time", bucket{tokens: 0, at: t0}, t0.Add(3 * time.Second), 60, 2, 0},
		{"refill stops at a minute's worth", bucket{tokens: 0, at: t0}, t0.Add(time.Hour), 60, 59, 0},
		{"300 rpm refills 5 per second", bucket{tokens: 0, at: t0}, t0.Add(time.Second), 300, 4, 0},
		{"3 rpm waits 20s", bucket{tokens: 0, at: t0}, t0, 3, 0, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, wait := take(tt.b, tt.now, tt.rpm)
			if math.Abs(b.tokens-tt.wantTokens) > 1e-9 || wait != tt.wantWait || !b.at.Equal(tt.now) {
				t.Fatalf("take = (%v tokens at %v, wait %v), want (%v, %v, %v)", b.tokens, b.at, wait, tt.wantTokens, tt.now, tt.wantWait)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	seed := int64(7)
	tests := []struct {
		name  string
		value any
		want  bool
	}{
		{"embeddings", &engine.EmbeddingsInput{Text: []string{"a"}}, true},
		{"image", &engine.ImageInput{Image: []byte{1}}, true},
		{"translation", &engine.TranslationInput{Text: "a", TargetLang: "fr"}, true},
		{"generation at the default temperature", &engine.GenerationInput{Prompt: "a", Temperature: 0.6}, false},
		{"generation with a seed", &engine.GenerationInput{Prompt: "a", Temperature: 0.6, Seed: &seed}, true},
		{"generation at temperature 0", &engine.GenerationInput{Prompt: "a"}, true},
		{"streamed generation, even seeded", &engine.GenerationInput{Prompt: "a", Seed: &seed, Stream: true}, false},
	}
	for _, tt := range tests {
		if got := deterministic(tt.value); got != tt.want {
			t.Errorf("%s: deterministic = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCacheKeyDependsOnModelInputAndParameters(t *testing.T) {
	key := func(model string, v any, custom string) string {
		k, err := cacheKey(model, v, custom)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key("m", &engine.EmbeddingsInput{Text: []string{"a"}, Pooling: "mean"}, "")
	if base != key("m", &engine.EmbeddingsInput{Text: []string{"a"}, Pooling: "mean"}, "") {
		t.Fatal("equal requests got different keys")
	}
	for name, other := range map[string]string{
		"another model":     key("m2", &engine.EmbeddingsInput{Text: []string{"a"}, Pooling: "mean"}, ""),
		"another input":     key("m", &engine.EmbeddingsInput{Text: []string{"b"}, Pooling: "mean"}, ""),
		"another parameter": key("m", &engine.EmbeddingsInput{Text: []string{"a"}, Pooling: "cls"}, ""),
		"a custom key":      key("m", &engine.EmbeddingsInput{Text: []string{"a"}, Pooling: "mean"}, "mine"),
	} {
		if other == base {
			t.Errorf("%s: same key as the base request", name)
		}
	}
	if key("m", &engine.EmbeddingsInput{Text: []string{"x"}}, "mine") != key("m", &engine.EmbeddingsInput{Text: []string{"y"}}, "mine") {
		t.Error("a custom key must replace the input in the key")
	}
	if key("m", nil, "mine") == key("m2", nil, "mine") {
		t.Error("custom keys must stay per model")
	}
}

func TestUsageAndNeurons(t *testing.T) {
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	entry := func(id string) *engine.Entry {
		e, ok := cat.Lookup(id)
		if !ok {
			t.Fatalf("%s not in the catalog", id)
		}
		return e
	}
	tests := []struct {
		name string
		e    *engine.Entry
		in   any
		out  any
		want Usage
	}{
		{"bge-small: 1841 per M tokens", entry("@cf/baai/bge-small-en-v1.5"), nil,
			&engine.EmbeddingsOutput{PromptTokens: 1000}, Usage{Requests: 1, PromptTokens: 1000, Neurons: 1.841}},
		{"bge-large: 18582 per M tokens", entry("@cf/baai/bge-large-en-v1.5"), nil,
			&engine.EmbeddingsOutput{PromptTokens: 500}, Usage{Requests: 1, PromptTokens: 500, Neurons: 9.291}},
		{"bge-m3 reranking: 1073 per M tokens", entry("@cf/baai/bge-m3"), nil,
			&engine.RerankOutput{PromptTokens: 1000}, Usage{Requests: 1, PromptTokens: 1000, Neurons: 1.073}},
		{"bge-m3 contexts: 1073 per M tokens", entry("@cf/baai/bge-m3"), nil,
			&engine.ContextEmbeddingsOutput{PromptTokens: 2000}, Usage{Requests: 1, PromptTokens: 2000, Neurons: 2.146}},
		{"reranker: tokens, no published rate", entry("@cf/baai/bge-reranker-base"), nil,
			&engine.RerankOutput{PromptTokens: 70}, Usage{Requests: 1, PromptTokens: 70}},
		{"sentiment: tokens, no published rate", entry("@cf/huggingface/distilbert-sst-2-int8"), nil,
			&engine.TextClassificationOutput{PromptTokens: 9}, Usage{Requests: 1, PromptTokens: 9}},
		{"resnet: 228055 per M images", entry("@cf/microsoft/resnet-50"), nil,
			[]engine.Classification{{Label: "X"}}, Usage{Requests: 1, Images: 1, Neurons: 0.228055}},
		{"m2m100: characters, tokens estimated at 4 characters", entry("@cf/meta/m2m100-1.2b"),
			&engine.TranslationInput{Text: strings.Repeat("é", 400)}, &engine.TranslationOutput{TranslatedText: strings.Repeat("a", 800)},
			Usage{Requests: 1, CharactersIn: 400, CharactersOut: 800, Neurons: 300 * 31050 / 1e6}},
		{"mistral: 10000 in, 17300 out per M", entry("@cf/mistral/mistral-7b-instruct-v0.1"), nil,
			&engine.GenerationOutput{Usage: engine.Usage{PromptTokens: 100, CompletionTokens: 200}},
			Usage{Requests: 1, PromptTokens: 100, CompletionTokens: 200, Neurons: (100*10000 + 200*17300) / 1e6}},
		{"other LLMs assume mistral's rate", entry("@cf/meta/llama-2-7b-chat-int8"), nil,
			&engine.Usage{PromptTokens: 100, CompletionTokens: 200},
			Usage{Requests: 1, PromptTokens: 100, CompletionTokens: 200, Neurons: (100*10000 + 200*17300) / 1e6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := usageOf(tt.e, tt.in, tt.out)
			if math.Abs(got.Neurons-tt.want.Neurons) > 1e-9 {
				t.Fatalf("neurons = %v, want %v", got.Neurons, tt.want.Neurons)
			}
			got.Neurons, tt.want.Neurons = 0, 0
			if got != tt.want {
				t.Fatalf("usage = %+v, want %+v", got, tt.want)
			}
		})
	}
	custom := &engine.Entry{ID: "@custom/embedder", Task: engine.TaskTextEmbeddings}
	if u := usageOf(custom, nil, &engine.EmbeddingsOutput{PromptTokens: 10}); u.Neurons != 0 || u.PromptTokens != 10 {
		t.Fatalf("custom embedder usage = %+v; want tokens and no neurons", u)
	}
}

func TestCallerIDNeverRevealsTheToken(t *testing.T) {
	id := callerID("s3cret-token-value")
	if strings.Contains(id, "s3cret") || !strings.HasPrefix(id, "sha256:") || len(id) != len("sha256:")+12 {
		t.Fatalf("callerID = %q", id)
	}
	if id != callerID("s3cret-token-value") || id == callerID("another") {
		t.Fatal("callerID must be stable per token and differ between tokens")
	}
	if callerID("") != "anonymous" {
		t.Fatalf("no token = %q", callerID(""))
	}
}

func TestPollID(t *testing.T) {
	tests := []struct {
		body   string
		wantID string
		want   bool
	}{
		{`{"request_id":"768f15b7"}`, "768f15b7", true},
		{` {"request_id": "abc", "options": {}} `, "abc", true},
		{`{"text":"hello"}`, "", false},
		{`{"request_id":""}`, "", false},
		{`{"request_id":12}`, "", false},
		{`[1,2]`, "", false},
		{``, "", false},
	}
	for _, tt := range tests {
		id, ok := PollID([]byte(tt.body))
		if id != tt.wantID || ok != tt.want {
			t.Errorf("PollID(%s) = %q, %v; want %q, %v", tt.body, id, ok, tt.wantID, tt.want)
		}
	}
}

func TestMemoryLimiterForgetsRefilledBuckets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	lim := newMemoryLimiter()
	lim.now = func() time.Time { return now }
	for i := range maxIdleBuckets + 1 {
		if _, err := lim.Take(t.Context(), fmt.Sprint("caller-", i), 60); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2 * time.Minute) // every bucket has refilled
	if wait, _ := lim.Take(t.Context(), "caller-0", 60); wait != 0 {
		t.Fatalf("a refilled bucket made a caller wait %v", wait)
	}
	if n := len(lim.buckets); n != 1 {
		t.Fatalf("%d buckets kept, want only the one just used", n)
	}
}
