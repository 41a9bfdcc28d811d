package llm

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	ollamamodel "github.com/ollama/ollama/types/model"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/enginetest"
	"github.com/edgeinfer/edgeinfer/engine/home"
)

// fakeOllama stands in for an Ollama server at the process boundary, for
// what the real one cannot be made to do on demand: call tools, break a
// stream, refuse a prompt, pull from a registry.
type fakeOllama struct {
	*httptest.Server
	tag    string
	caps   []string
	family string // details.family in /api/show (Ollama's architecture name)

	mu    sync.Mutex
	chats []api.ChatRequest
	// chat answers /api/chat; the request has been recorded.
	chat func(w http.ResponseWriter, req api.ChatRequest)
	// pull answers /api/pull.
	pull func(w http.ResponseWriter, req api.PullRequest)
}

func newFakeOllama(t *testing.T, tag string, caps ...string) *fakeOllama {
	f := &fakeOllama{tag: tag, caps: caps}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, r *http.Request) {
		writeLine(w, map[string]any{"version": "0.17.4"})
	})
	mux.HandleFunc("GET /api/tags", func(w http.ResponseWriter, r *http.Request) {
		writeLine(w, map[string]any{"models": []map[string]any{{"name": f.tag, "model": f.tag, "size": 1234}}})
	})
	mux.HandleFunc("POST /api/show", func(w http.ResponseWriter, r *http.Request) {
		var req api.ShowRequest
		json.NewDecoder(r.Body).Decode(&req)
		if !ollamamodel.ParseName(req.Model).EqualFold(ollamamodel.ParseName(f.tag)) { // "x" is "x:latest", as in Ollama
			w.WriteHeader(http.StatusNotFound)
			writeLine(w, map[string]any{"error": "model '" + req.Model + "' not found"})
			return
		}
		writeLine(w, map[string]any{"model_info": map[string]any{"general.architecture": "llama", "llama.context_length": 4096}, "capabilities": f.caps,
			"details": map[string]any{"family": f.family}})
	})
	mux.HandleFunc("POST /api/generate", func(w http.ResponseWriter, r *http.Request) {
		writeLine(w, map[string]any{"model": f.tag, "done": true}) // load and unload requests
	})
	mux.HandleFunc("POST /api/chat", func(w http.ResponseWriter, r *http.Request) {
		var req api.ChatRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("chat request: %v", err)
		}
		f.mu.Lock()
		f.chats = append(f.chats, req)
		chat := f.chat
		f.mu.Unlock()
		chat(w, req)
	})
	mux.HandleFunc("POST /api/pull", func(w http.ResponseWriter, r *http.Request) {
		var req api.PullRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.pull(w, req)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeOllama) recorded() []api.ChatRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.ChatRequest(nil), f.chats...)
}

// writeLine writes one NDJSON line and flushes it, as Ollama streams.
func writeLine(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Write(append(b, '\n'))
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
}

func piece(s string) map[string]any {
	return map[string]any{"message": map[string]any{"role": "assistant", "content": s}, "done": false}
}

func finished(prompt, eval int) map[string]any {
	return map[string]any{"message": map[string]any{"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
		"prompt_eval_count": prompt, "eval_count": eval}
}

const fakeModel = "@cf/meta/llama-2-7b-chat-int8"

// newFakeEngine serves fakeModel through the backend against f; home has
// no synthetic model.
func newFakeEngine(t *testing.T, f *fakeOllama) *engine.Engine {
	t.Helper()
	t.Setenv("OLLAMA_HOST", "")
	t.Setenv("OLLAMA_NUM_PARALLEL", "")
	return enginetest.New(t, nil, map[string]engine.Backend{Kind: &Backend{URL: f.URL, Logger: testLogger(t)}}, testLogger(t))
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestRequestReachesOllamaMappedAndToolCallsComeBackAsObjects(t *testing.T) {
	f := newFakeOllama(t, "llama2:7b-chat-q8_0", "completion", "tools")
	f.chat = func(w http.ResponseWriter, req api.ChatRequest) {
		writeLine(w, map[string]any{"message": map[string]any{"role": "assistant", "content": "",
			"tool_calls": []map[string]any{{"function": map[string]any{"name": "getWeather", "arguments": map[string]any{"city": "Paris", "days": 2}}}}}, "done": false})
		writeLine(w, finished(31, 12))
	}
	eng := newFakeEngine(t, f)
	out, err := eng.Run(testCtx(t, 30*time.Second), fakeModel, engine.Input{JSON: []byte(`{
		"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Paris?"}],
		"max_tokens":64,"temperature":0.2,"top_p":0.8,"top_k":20,"seed":42,"repetition_penalty":1.2,"frequency_penalty":0.3,"presence_penalty":0.4,
		"tools":[{"type":"function","function":{"name":"getWeather","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	gen := out.(*engine.GenerationOutput)
	want := []engine.ToolCall{{Name: "getWeather", Arguments: map[string]any{"city": "Paris", "days": float64(2)}}}
	if len(gen.ToolCalls) != 1 || gen.ToolCalls[0].Name != want[0].Name || gen.ToolCalls[0].Arguments["city"] != "Paris" || gen.ToolCalls[0].Arguments["days"] != float64(2) {
		t.Errorf("tool_calls %+v, want %+v", gen.ToolCalls, want)
	}
	if gen.Usage != (engine.Usage{PromptTokens: 31, CompletionTokens: 12, TotalTokens: 43}) {
		t.Errorf("usage %+v", gen.Usage)
	}
	b, _ := json.Marshal(gen)
	if !strings.Contains(string(b), `"arguments":{"city":"Paris","days":2}`) {
		t.Errorf("Workers AI output %s: arguments must be an object", b)
	}

	reqs := f.recorded()
	if len(reqs) != 1 {
		t.Fatalf("%d chat requests", len(reqs))
	}
	r := reqs[0]
	if r.Model != "llama2:7b-chat-q8_0" || len(r.Messages) != 2 || r.Messages[0].Role != "system" || len(r.Tools) != 1 || r.Tools[0].Function.Name != "getWeather" {
		t.Errorf("chat request %+v", r)
	}
	if r.Truncate == nil || *r.Truncate {
		t.Error("truncation not disabled: a prompt over the context window would be cut silently")
	}
	if r.KeepAlive != nil {
		t.Errorf("keep_alive %v sent to a server edgeinfer does not manage", r.KeepAlive)
	}
	wantOpts := map[string]any{"num_predict": 64.0, "temperature": 0.2, "top_p": 0.8, "top_k": 20.0, "seed": 42.0,
		"repeat_penalty": 1.2, "frequency_penalty": 0.3, "presence_penalty": 0.4, "num_ctx": 4096.0}
	for k, v := range wantOpts {
		if r.Options[k] != v {
			t.Errorf("option %s = %v, want %v", k, r.Options[k], v)
		}
	}
	if _, ok := r.Options["num_thread"]; ok {
		t.Error("num_thread sent to a server edgeinfer does not manage")
	}
}

func TestConfiguredTagOverridesTheCatalogs(t *testing.T) {
	f := newFakeOllama(t, "my-llama:latest", "completion")
	f.chat = func(w http.ResponseWriter, req api.ChatRequest) {
		writeLine(w, piece("Hi"))
		writeLine(w, finished(2, 1))
	}
	t.Setenv("OLLAMA_HOST", "")
	eng := enginetest.New(t, map[string]engine.ModelConfig{fakeModel: {Ollama: "my-llama"}}, // Ollama reads it as my-llama:latest
		map[string]engine.Backend{Kind: &Backend{URL: f.URL, Logger: testLogger(t)}}, testLogger(t))
	entry, _ := eng.Catalog().Lookup(fakeModel)
	if st := eng.Status(context.Background(), entry); !st.Installed || st.Installation.Synthetic || st.Installation.Source != "ollama:my-llama" {
		t.Errorf("status %+v", st)
	}
	gen := run(t, testCtx(t, 30*time.Second), eng, fakeModel, `{"prompt":"hi"}`)
	if reqs := f.recorded(); gen.Response != "Hi" || len(reqs) != 1 || reqs[0].Model != "my-llama" {
		t.Errorf("response %q, requests %+v", gen.Response, reqs)
	}
}

func TestStreamEndingWithoutDoneIsAnErrorEvent(t *testing.T) {
	f := newFakeOllama(t, "llama2:7b-chat-q8_0", "completion")
	f.chat = func(w http.ResponseWriter, req api.ChatRequest) {
		// What Ollama does after 30 identical pieces: it stops, with no done.
		for range 3 {
			writeLine(w, piece("la"))
		}
	}
	eng := newFakeEngine(t, f)
	out, err := eng.Run(testCtx(t, 30*time.Second), fakeModel, engine.Input{JSON: []byte(`{"prompt":"sing","stream":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	var pieces []string
	var last engine.StreamEvent
	for ev := range out.(*engine.TextStream).Events {
		if ev.Err == nil && ev.Usage == nil {
			pieces = append(pieces, ev.Response)
		}
		last = ev
	}
	if strings.Join(pieces, "") != "lalala" || last.Err == nil || last.Usage != nil {
		t.Fatalf("pieces %q, last event %+v: want the pieces, then an error and no usage", pieces, last)
	}
	if d := engine.Describe(last.Err); d.Status != http.StatusInternalServerError || strings.Contains(d.Message, "Internal error") {
		t.Errorf("error event %+v: want a 500 that says what failed", d)
	}
	if n := len(f.recorded()); n != 1 {
		t.Errorf("%d requests: a stream that already sent pieces must not be retried", n)
	}
}

func TestEmptyBrokenStreamIsRetriedOnce(t *testing.T) {
	f := newFakeOllama(t, "llama2:7b-chat-q8_0", "completion")
	f.chat = func(w http.ResponseWriter, req api.ChatRequest) {} // the server went away before answering
	eng := newFakeEngine(t, f)
	_, err := eng.Run(testCtx(t, 30*time.Second), fakeModel, engine.Input{JSON: []byte(`{"prompt":"hi"}`)})
	if engine.KindOf(err) != engine.KindInternal {
		t.Fatalf("err %v, want internal", err)
	}
	if n := len(f.recorded()); n != 2 {
		t.Errorf("%d requests, want the first and one retry", n)
	}
}

func TestOllamaErrorsMapToWorkersAIErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		message    string
		wantStatus int
		want       string
	}{
		{"prompt over the context window", http.StatusBadRequest, "the input length exceeds the context length", http.StatusRequestEntityTooLarge, "'prompt': the prompt is longer than the model's context window of 4096 tokens"},
		{"tag removed after load", http.StatusNotFound, "model 'llama2:7b-chat-q8_0' not found", http.StatusServiceUnavailable, "run `edgeinfer pull " + fakeModel + "`"},
		{"other refusal", http.StatusBadRequest, "invalid format", http.StatusBadRequest, "Ollama refused the request: invalid format"},
		{"Ollama's own queue full", http.StatusServiceUnavailable, "server busy, please try again.  maximum pending requests exceeded", http.StatusTooManyRequests, "Capacity temporarily exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeOllama(t, "llama2:7b-chat-q8_0", "completion")
			f.chat = func(w http.ResponseWriter, req api.ChatRequest) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				writeLine(w, map[string]any{"error": tc.message})
			}
			eng := newFakeEngine(t, f)
			_, err := eng.Run(testCtx(t, 30*time.Second), fakeModel, engine.Input{JSON: []byte(`{"prompt":"hi"}`)})
			if d := engine.Describe(err); d.Status != tc.wantStatus || !strings.Contains(d.Message, tc.want) {
				t.Errorf("got %d %q, want %d containing %q", d.Status, d.Message, tc.wantStatus, tc.want)
			}
		})
	}
}

func TestErrorLineMidStreamEndsTheStreamWithAnErrorEvent(t *testing.T) {
	f := newFakeOllama(t, "llama2:7b-chat-q8_0", "completion")
	f.chat = func(w http.ResponseWriter, req api.ChatRequest) {
		writeLine(w, piece("Hello"))
		writeLine(w, map[string]any{"error": "llama runner process has terminated"})
	}
	eng := newFakeEngine(t, f)
	out, err := eng.Run(testCtx(t, 30*time.Second), fakeModel, engine.Input{JSON: []byte(`{"prompt":"hi","stream":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	var events []engine.StreamEvent
	for ev := range out.(*engine.TextStream).Events {
		events = append(events, ev)
	}
	if len(events) != 2 || events[0].Response != "Hello" || events[1].Err == nil {
		t.Fatalf("events %+v: want the piece, then an error", events)
	}
}

func TestLoRAOnlyOnLoRAModelsAndOnlyRegisteredAdapters(t *testing.T) {
	f := newFakeOllama(t, "llama2:7b-chat-q8_0", "completion")
	f.chat = func(w http.ResponseWriter, req api.ChatRequest) { writeLine(w, finished(1, 1)) }
	eng := newFakeEngine(t, f)
	ctx := testCtx(t, 30*time.Second)
	_, err := eng.Run(ctx, fakeModel, engine.Input{JSON: []byte(`{"prompt":"hi","lora":"my-adapter"}`)})
	if d := engine.Describe(err); d.Status != http.StatusMethodNotAllowed || d.Code != 5005 || d.Message != "The model "+fakeModel+" does not support LoRa inference" {
		t.Errorf("lora on a model without LoRA: %+v", d)
	}

	f.tag = "mistral:7b-instruct-v0.1-q8_0"
	for lora, want := range map[string]string{"my-adapter": "no LoRA adapter named \"my-adapter\"", "../etc": "is not a LoRA adapter name"} {
		_, err = eng.Run(ctx, "@cf/mistral/mistral-7b-instruct-v0.1", engine.Input{JSON: []byte(`{"prompt":"hi","lora":"` + lora + `"}`)})
		if d := engine.Describe(err); d.Status != http.StatusBadRequest || !strings.Contains(d.Message, want) {
			t.Errorf("lora %q on a LoRA model: %+v, want 400 with %q", lora, d, want)
		}
	}
	if n := len(f.recorded()); n != 0 {
		t.Errorf("%d generations ran for refused requests", n)
	}
}

func TestMissingModelIsNotInstalledAndSaysHowToPullIt(t *testing.T) {
	f := newFakeOllama(t, "something-else:latest", "completion")
	eng := newFakeEngine(t, f)
	start := time.Now()
	_, err := eng.Run(testCtx(t, 30*time.Second), fakeModel, engine.Input{JSON: []byte(`{"prompt":"hi"}`)})
	d := engine.Describe(err)
	if d.Status != http.StatusServiceUnavailable || !strings.Contains(d.Message, "run `edgeinfer pull "+fakeModel+"`") || !strings.Contains(d.Message, "llama2:7b-chat-q8_0") {
		t.Fatalf("got %d %q", d.Status, d.Message)
	}
	t.Logf("answered in %s", time.Since(start).Round(time.Millisecond))
}

// recordingProgress keeps the Progress calls of a pull.
type recordingProgress struct {
	mu      sync.Mutex
	updates []string
	done    map[string]error
}

func (p *recordingProgress) Update(name string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal([]any{name, done, total})
	p.updates = append(p.updates, string(b))
}

func (p *recordingProgress) Done(name string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[name] = err
}

func TestPullLLMReportsEachLayer(t *testing.T) {
	f := newFakeOllama(t, "llama2:7b-chat-q8_0")
	var pulled string
	f.pull = func(w http.ResponseWriter, req api.PullRequest) {
		pulled = req.Model
		writeLine(w, map[string]any{"status": "pulling manifest"})
		for _, done := range []int{0, 500, 1000} {
			writeLine(w, map[string]any{"status": "pulling aaaa", "digest": "sha256:aaaaaaaaaaaaaaaaaaaa", "total": 1000, "completed": done})
		}
		writeLine(w, map[string]any{"status": "pulling bbbb", "digest": "sha256:bbbbbbbbbbbbbbbbbbbb", "total": 10, "completed": 10})
		writeLine(w, map[string]any{"status": "verifying sha256 digest"})
		writeLine(w, map[string]any{"status": "success"})
	}
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := cat.Lookup(fakeModel)
	b := &Backend{URL: f.URL, Logger: testLogger(t)}
	p := &recordingProgress{done: map[string]error{}}
	spec := engine.ModelSpec{Entry: entry, Paths: home.Resolve(t.TempDir(), os.Getenv), Config: engine.ModelConfig{Ollama: "llama2:7b-chat-q4_0"}}
	if err := b.PullLLM(testCtx(t, 30*time.Second), spec, p); err != nil {
		t.Fatal(err)
	}
	if pulled != "llama2:7b-chat-q4_0" {
		t.Errorf("pulled %q, want the configured tag", pulled)
	}
	want := []string{`["layer aaaaaaaaaaaa",0,1000]`, `["layer aaaaaaaaaaaa",500,1000]`, `["layer aaaaaaaaaaaa",1000,1000]`, `["layer bbbbbbbbbbbb",10,10]`}
	if strings.Join(p.updates, " ") != strings.Join(want, " ") {
		t.Errorf("updates %v, want %v", p.updates, want)
	}
	if len(p.done) != 2 || p.done["layer aaaaaaaaaaaa"] != nil || p.done["layer bbbbbbbbbbbb"] != nil {
		t.Errorf("done %v", p.done)
	}

	f.pull = func(w http.ResponseWriter, req api.PullRequest) {
		writeLine(w, map[string]any{"status": "pulling manifest"})
		writeLine(w, map[string]any{"error": "pull model manifest: dial tcp: lookup registry.ollama.ai: no such host"})
	}
	err = b.PullLLM(testCtx(t, 30*time.Second), spec, p)
	if err == nil || !strings.Contains(err.Error(), "no such host") || !strings.Contains(err.Error(), "llama2:7b-chat-q4_0") {
		t.Errorf("failed pull: %v", err)
	}
	var se api.StatusError
	if errors.As(err, &se) {
		t.Errorf("the error carries Ollama's HTTP status wrapper: %v", err)
	}
}
