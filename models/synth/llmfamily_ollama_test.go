package synth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/llm/ollamaserver"
)

// The tiny chat families in the real Ollama server (`make setup` installs
// it; the test fails without it, as the llm tests do): one managed server
// with a private model store, each family created from its generated
// directory as edgeinfer creates models, then seeded requests.

// jsonSchema has free-text string fields, which random weights never close.
const jsonSchema = `{"type":"object","properties":{"name":{"type":"string"},"summary":{"type":"string"},"n":{"type":"integer"}},"required":["name","summary","n"]}`

func TestLLMFamiliesOnOllama(t *testing.T) {
	bin := home.Resolve("", os.Getenv).OllamaBin
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Ollama server binary at %s: run `make setup` (or set EDGEINFER_OLLAMA_BIN): %v", bin, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	t.Setenv("OLLAMA_HOST", "") // never a developer's own server
	srv, err := ollamaserver.Start(ctx, ollamaserver.Options{
		Binary:    bin,
		ModelsDir: t.TempDir(),
		KeepAlive: "5m",
		Env:       []string{"HOME=" + t.TempDir()}, // Ollama's key file
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()

	out := t.TempDir()
	var ids []string
	for _, f := range LLMFamilies() {
		ids = append(ids, f.ModelID)
	}
	if err := Generate(ctx, Options{Preset: Tiny, OutDir: out}, ids, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, f := range LLMFamilies() {
		t.Run(f.Name, func(t *testing.T) {
			start := time.Now()
			if err := ollamaserver.EnsureModel(ctx, c, f.OllamaTag, filepath.Join(out, filepath.FromSlash(f.ModelID))); err != nil {
				t.Fatal(err)
			}
			show, err := c.Show(ctx, &api.ShowRequest{Model: f.OllamaTag})
			if err != nil {
				t.Fatal(err)
			}
			var caps []string
			for _, c := range show.Capabilities {
				caps = append(caps, string(c))
			}
			if !slices.Equal(caps, f.Capabilities) {
				t.Errorf("Ollama reports capabilities %v, want %v", caps, f.Capabilities)
			}
			o := ollamaFamilyTest{t: t, ctx: ctx, c: c, f: f}
			o.chat()
			o.jsonSchema()
			if slices.Contains(f.Capabilities, "thinking") {
				o.thinking()
			}
			if slices.Contains(f.Capabilities, "tools") {
				o.tools()
			}
			t.Logf("%s: %s", f.Name, time.Since(start).Round(time.Millisecond))
		})
	}
}

type ollamaFamilyTest struct {
	t   *testing.T
	ctx context.Context
	c   *api.Client
	f   LLMFamily
}

// send makes one bounded, seeded, non-streamed chat request.
func (o ollamaFamilyTest) send(seed int, content string, edit func(*api.ChatRequest)) api.ChatResponse {
	o.t.Helper()
	stream := false
	req := &api.ChatRequest{
		Model:    o.f.OllamaTag,
		Messages: []api.Message{{Role: "user", Content: content}},
		Stream:   &stream,
		// The Modelfile's sampling defaults, a seed, and always a bound
		// (more threads than cores collapses throughput).
		Options: map[string]any{"seed": seed, "num_predict": 64, "num_thread": min(2, runtime.NumCPU())},
	}
	if edit != nil {
		edit(req)
	}
	var got api.ChatResponse
	if err := o.c.Chat(o.ctx, req, func(r api.ChatResponse) error { got = r; return nil }); err != nil {
		o.t.Fatalf("chat (seed %d): %v", seed, err)
	}
	if !got.Done || got.EvalCount > 64 {
		o.t.Fatalf("seed %d: done=%v after %d tokens", seed, got.Done, got.EvalCount)
	}
	return got
}

func (o ollamaFamilyTest) chat() {
	for seed := 1; seed <= 3; seed++ {
		r := o.send(seed, "Explain quantum computing in simple terms", nil)
		if r.Message.Content == "" || (r.DoneReason != "stop" && r.DoneReason != "length") {
			o.t.Errorf("chat seed %d: content %q, done_reason %q", seed, r.Message.Content, r.DoneReason)
		}
		o.t.Logf("chat seed %d (%s, %d tokens): thinking %q content %q", seed, r.DoneReason, r.EvalCount, r.Message.Thinking, r.Message.Content)
	}
}

// jsonSchema: output constrained by a schema with free-text strings ends
// as a valid object within the bound.
func (o ollamaFamilyTest) jsonSchema() {
	for seed := 1; seed <= 5; seed++ {
		r := o.send(seed, "Describe Paris as JSON.", func(req *api.ChatRequest) { req.Format = json.RawMessage(jsonSchema) })
		var v map[string]any
		err := json.Unmarshal([]byte(r.Message.Content), &v)
		name, ok1 := v["name"].(string)
		summary, ok2 := v["summary"].(string)
		n, ok3 := v["n"].(float64)
		if err != nil || !ok1 || !ok2 || !ok3 || n != math.Trunc(n) || len(v) != 3 || r.DoneReason != "stop" {
			o.t.Errorf("json seed %d (%s, %d tokens): %q does not match the schema (%v)", seed, r.DoneReason, r.EvalCount, r.Message.Content, err)
			continue
		}
		o.t.Logf("json seed %d: %d tokens, name %q summary %q n %v", seed, r.EvalCount, name, summary, n)
	}
}

// thinking: think=true gives a thinking block and then an answer; think=false none.
func (o ollamaFamilyTest) thinking() {
	for seed := 1; seed <= 5; seed++ {
		r := o.send(seed, "What is the weather in Paris?", func(req *api.ChatRequest) { req.Think = &api.ThinkValue{Value: true} })
		if r.Message.Thinking == "" || r.Message.Content == "" {
			o.t.Errorf("think seed %d (%s): thinking %q, content %q", seed, r.DoneReason, r.Message.Thinking, r.Message.Content)
		}
		r = o.send(seed, "What is the weather in Paris?", func(req *api.ChatRequest) { req.Think = &api.ThinkValue{Value: false} })
		if r.Message.Thinking != "" || r.Message.Content == "" {
			o.t.Errorf("think=false seed %d: thinking %q, content %q", seed, r.Message.Thinking, r.Message.Content)
		}
	}
}

// tools: with one tool offered, most replies are a call Ollama parses,
// naming the offered function (the shaped model copies its name from the
// tool list); the seeds make the count exact run to run.
func (o ollamaFamilyTest) tools() {
	const seeds = 10
	calls := 0
	for seed := 1; seed <= seeds; seed++ {
		r := o.send(seed, "What is the weather in Paris?", func(req *api.ChatRequest) { req.Tools = testTools })
		for _, call := range r.Message.ToolCalls {
			if call.Function.Name != "get_weather" {
				o.t.Errorf("tools seed %d: a call of %q", seed, call.Function.Name)
			}
		}
		if len(r.Message.ToolCalls) > 0 {
			calls++
		} else {
			o.t.Logf("tools seed %d: no call: %q", seed, r.Message.Content)
		}
	}
	o.t.Logf("tool calls in %d of %d replies", calls, seeds)
	if calls < seeds*6/10 {
		o.t.Errorf("only %d of %d replies call the tool", calls, seeds)
	}
}
