package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/engine/httpapi"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// The integration tier: the real Ollama server (`make setup` installs it)
// serving the tiny synthetic Llama. One managed server, with its own model
// store in a temporary EDGEINFER_HOME, serves the whole test binary.

const (
	llama   = "@cf/meta/llama-2-7b-chat-int8"        // defaults: 4 slots, context 8192 capped to the model's 4096
	phi2    = "@cf/microsoft/phi-2"                  // 1 slot, 2 admitted, context 2048
	mistral = "@cf/mistral/mistral-7b-instruct-v0.1" // LoRA-capable
)

var (
	ollamaBin string
	binErr    error
	testHome  string
	shared    struct {
		once    sync.Once
		eng     *engine.Engine
		backend *Backend
	}
)

func TestMain(m *testing.M) {
	ollamaBin = home.Resolve("", os.Getenv).OllamaBin
	_, binErr = os.Stat(ollamaBin)
	dir, err := os.MkdirTemp("", "llm-test-")
	if err != nil {
		panic(err)
	}
	testHome = dir
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: filepath.Join(dir, "models")}, []string{engine.SyntheticLlamaID}, io.Discard); err != nil {
		panic(err)
	}
	// Hermetic: the installed binary, but a store under the temporary home,
	// never a developer's own server, and Ollama's key file out of $HOME.
	os.Setenv("EDGEINFER_OLLAMA_BIN", ollamaBin)
	os.Unsetenv("OLLAMA_HOST")
	os.Unsetenv("OLLAMA_NUM_PARALLEL")
	os.Setenv("HOME", filepath.Join(dir, "user"))
	code := m.Run()
	if shared.eng != nil {
		shared.eng.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// requireOllama fails the test when the Ollama binary is missing.
func requireOllama(t *testing.T) {
	t.Helper()
	if binErr != nil {
		t.Fatalf("no Ollama server binary at %s: run `make setup` (or set EDGEINFER_OLLAMA_BIN): %v", ollamaBin, binErr)
	}
}

// sharedEngine serves the LLMs of the catalog from the synthetic model
// through one managed Ollama server.
func sharedEngine(t *testing.T) (*engine.Engine, *Backend) {
	t.Helper()
	requireOllama(t)
	shared.once.Do(func() {
		cat, err := engine.LoadCatalog()
		if err != nil {
			panic(err)
		}
		cfg := engine.DefaultConfig()
		cfg.Home = testHome
		cfg.Models[phi2] = engine.ModelConfig{MaxBatchSize: 1, MaxConcurrentRequests: 2}
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		shared.backend = &Backend{Logger: log}
		shared.eng, err = engine.New(cat, cfg, map[string]engine.Backend{Kind: shared.backend}, log)
		if err != nil {
			panic(err)
		}
	})
	return shared.eng, shared.backend
}

func run(t *testing.T, ctx context.Context, eng *engine.Engine, model, body string) *engine.GenerationOutput {
	t.Helper()
	out, err := eng.Run(ctx, model, engine.Input{JSON: []byte(body)})
	if err != nil {
		t.Fatalf("%s %s: %v", model, body, err)
	}
	return out.(*engine.GenerationOutput)
}

// collect drains a stream into its text, usage and error.
func collect(out any) (text string, pieces int, usage *engine.Usage, err error) {
	var b strings.Builder
	for ev := range out.(*engine.TextStream).Events {
		switch {
		case ev.Err != nil:
			err = ev.Err
		case ev.Usage != nil:
			usage = ev.Usage
		default:
			b.WriteString(ev.Response)
			pieces++
		}
	}
	return b.String(), pieces, usage, err
}

func TestSameSeedSameTextStreamedOrNot(t *testing.T) {
	eng, _ := sharedEngine(t)
	ctx := testCtx(t, 2*time.Minute)
	const body = `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Explain quantum computing in simple terms"}],"max_tokens":24,"seed":%d%s}`
	whole := run(t, ctx, eng, llama, fmt.Sprintf(body, 7, ""))
	out, err := eng.Run(ctx, llama, engine.Input{JSON: []byte(fmt.Sprintf(body, 7, `,"stream":true`))})
	if err != nil {
		t.Fatal(err)
	}
	streamed, pieces, usage, err := collect(out)
	if err != nil {
		t.Fatal(err)
	}
	if whole.Response == "" || streamed != whole.Response || *usage != whole.Usage {
		t.Fatalf("seed 7:\nwhole    %q %+v\nstreamed %q %+v", whole.Response, whole.Usage, streamed, *usage)
	}
	if u := whole.Usage; u.CompletionTokens == 0 || u.CompletionTokens > 24 || u.PromptTokens == 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("usage %+v: want 1..24 completion tokens (max_tokens 24) and a consistent total", u)
	}
	other := run(t, ctx, eng, llama, fmt.Sprintf(body, 8, ""))
	if other.Response == whole.Response {
		t.Errorf("seeds 7 and 8 gave the same text %q: the seed does not reach the sampler", other.Response)
	}
	t.Logf("%d pieces for %d tokens: %q", pieces, usage.CompletionTokens, streamed)
}

func TestCompletionTokensNeverExceedMaxTokens(t *testing.T) {
	eng, _ := sharedEngine(t)
	ctx := testCtx(t, 2*time.Minute)
	for _, maxTokens := range []int{1, 5, 40} {
		gen := run(t, ctx, eng, llama, fmt.Sprintf(`{"prompt":"Tell me a long story","max_tokens":%d,"temperature":1.2,"seed":3}`, maxTokens))
		if gen.Usage.CompletionTokens < 1 || gen.Usage.CompletionTokens > maxTokens {
			t.Errorf("max_tokens %d: completion_tokens %d", maxTokens, gen.Usage.CompletionTokens)
		}
	}
	// raw skips the template: the same prompt counts fewer tokens.
	templated := run(t, ctx, eng, llama, `{"prompt":"Hello there","max_tokens":2}`)
	raw := run(t, ctx, eng, llama, `{"prompt":"Hello there","raw":true,"max_tokens":2}`)
	if raw.Usage.PromptTokens >= templated.Usage.PromptTokens {
		t.Errorf("raw prompt: %d tokens, templated: %d; raw must skip the [INST] template", raw.Usage.PromptTokens, templated.Usage.PromptTokens)
	}
}

// sseEvents splits a text/event-stream body into its data payloads and
// fails on anything but `data: …` events separated by blank lines.
func sseEvents(t *testing.T, body []byte) []string {
	t.Helper()
	if !bytes.HasSuffix(body, []byte("\n\n")) {
		t.Fatalf("stream does not end with a blank line: %q", body)
	}
	var data []string
	for _, ev := range strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n") {
		payload, ok := strings.CutPrefix(ev, "data: ")
		if !ok || strings.Contains(payload, "\n") {
			t.Fatalf("malformed event %q", ev)
		}
		data = append(data, payload)
	}
	return data
}

func TestWorkersAIStreamFormat(t *testing.T) {
	eng, _ := sharedEngine(t)
	srv := httptest.NewServer(httpapi.New(eng, httpapi.Options{}).Handler())
	defer srv.Close()
	for _, route := range []struct{ name, path, body string }{
		{"REST", "/client/v4/accounts/acct/ai/run/" + llama, `{"prompt":"Tell me a joke","stream":true,"max_tokens":16,"seed":5}`},
		{"binding", "/run?version=3", `{"inputs":{"prompt":"Tell me a joke","stream":true,"max_tokens":16,"seed":5},"options":{}}`},
	} {
		t.Run(route.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+route.path, strings.NewReader(route.body))
			req.Header.Set("content-type", "application/json")
			req.Header.Set("cf-consn-model-id", llama)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			events := sseEvents(t, body)
			if len(events) < 3 || events[len(events)-1] != "[DONE]" {
				t.Fatalf("events %q: want pieces, usage, [DONE]", events)
			}
			var text strings.Builder
			for _, ev := range events[:len(events)-2] {
				var piece map[string]any
				if err := json.Unmarshal([]byte(ev), &piece); err != nil {
					t.Fatalf("piece %q: %v", ev, err)
				}
				s, ok := piece["response"].(string)
				if len(piece) != 1 || !ok || s == "" {
					t.Fatalf("piece %q: want exactly a non-empty response string", ev)
				}
				text.WriteString(s)
			}
			var final struct {
				Response *string         `json:"response"`
				Usage    map[string]int  `json:"usage"`
				Extra    json.RawMessage `json:"-"`
			}
			last := events[len(events)-2]
			if err := json.Unmarshal([]byte(last), &final); err != nil || final.Response == nil || *final.Response != "" || len(final.Usage) != 3 {
				t.Fatalf("final event %q: want {\"response\":\"\",\"usage\":{3 counts}}", last)
			}
			u := final.Usage
			if u["completion_tokens"] < 1 || u["completion_tokens"] > 16 || u["total_tokens"] != u["prompt_tokens"]+u["completion_tokens"] {
				t.Errorf("usage %v", u)
			}
			// The same request, not streamed, gives the same text.
			whole := run(t, testCtx(t, time.Minute), eng, llama, `{"prompt":"Tell me a joke","max_tokens":16,"seed":5}`)
			if text.String() != whole.Response {
				t.Errorf("streamed %q, whole %q", text.String(), whole.Response)
			}
		})
	}
}

func TestOpenAIChatCompletions(t *testing.T) {
	eng, _ := sharedEngine(t)
	srv := httptest.NewServer(httpapi.New(eng, httpapi.Options{}).Handler())
	defer srv.Close()
	post := func(body string) *http.Response {
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	const msgs = `"model":"` + llama + `","messages":[{"role":"user","content":"Hi"}],"max_tokens":12,"seed":11`
	resp := post(`{` + msgs + `}`)
	var completion struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
		Usage map[string]int `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&completion); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if len(completion.Choices) != 1 || completion.Choices[0].Message.Content == "" || completion.Usage["completion_tokens"] < 1 || completion.Usage["completion_tokens"] > 12 {
		t.Fatalf("completion %+v", completion)
	}

	resp = post(`{` + msgs + `,"stream":true}`)
	defer resp.Body.Close()
	var text strings.Builder
	var usage map[string]int
	sc := bufio.NewScanner(resp.Body)
	done := false
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			break
		}
		var chunk struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
			Usage map[string]int `json:"usage"`
		}
		if err := json.Unmarshal([]byte(line), &chunk); err != nil {
			t.Fatalf("chunk %q: %v", line, err)
		}
		if len(chunk.Choices) > 0 {
			text.WriteString(chunk.Choices[0].Delta.Content)
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
	}
	if !done || text.String() != completion.Choices[0].Message.Content || usage["completion_tokens"] != completion.Usage["completion_tokens"] {
		t.Errorf("streamed %q usage %v done %v; not streamed %q usage %v", text.String(), usage, done, completion.Choices[0].Message.Content, completion.Usage)
	}
}

func TestFourConcurrentStreams(t *testing.T) {
	eng, _ := sharedEngine(t)
	ctx := testCtx(t, 2*time.Minute)
	type result struct {
		text  string
		usage *engine.Usage
		err   error
	}
	results := make([]result, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := eng.Run(ctx, llama, engine.Input{JSON: []byte(fmt.Sprintf(`{"prompt":"Story number %d","stream":true,"max_tokens":48,"seed":%d}`, i, i+1))})
			if err != nil {
				results[i].err = err
				return
			}
			results[i].text, _, results[i].usage, results[i].err = collect(out)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.usage == nil || r.text == "" || r.usage.CompletionTokens > 48 {
			t.Errorf("stream %d: err %v usage %+v text %q", i, r.err, r.usage, r.text)
		}
	}
	// Each stream is its own sequence: alone, with the same seed, it says the same.
	alone := run(t, ctx, eng, llama, `{"prompt":"Story number 2","max_tokens":48,"seed":3}`)
	if alone.Response != results[2].text {
		t.Errorf("stream 2 among four %q, alone %q", results[2].text, alone.Response)
	}
}

// startLong starts a long streamed generation on model and waits for its
// first piece.
func startLong(t *testing.T, ctx context.Context, eng *engine.Engine, model string) <-chan engine.StreamEvent {
	t.Helper()
	return startStream(t, ctx, eng, model, longStory(t, eng, model))
}

// startStream starts a streamed generation of body and returns its events
// after the first, which must be a piece of text.
func startStream(t *testing.T, ctx context.Context, eng *engine.Engine, model, body string) <-chan engine.StreamEvent {
	t.Helper()
	out, err := eng.Run(ctx, model, engine.Input{JSON: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	events := out.(*engine.TextStream).Events
	if ev := <-events; ev.Err != nil || ev.Usage != nil {
		t.Fatalf("first event of a long generation: %+v", ev)
	}
	return events
}

func TestQueueLimitRejectIfBusyAndCancelledRequestFreesItsSlot(t *testing.T) {
	eng, _ := sharedEngine(t)
	ctx := testCtx(t, 2*time.Minute)
	longCtx, stopLong := context.WithCancel(ctx)
	defer stopLong()
	long := startLong(t, longCtx, eng, phi2) // holds phi-2's only slot

	reject := engine.WithOptions(ctx, engine.RunOptions{RejectIfBusy: true})
	_, err := eng.Run(reject, phi2, engine.Input{JSON: []byte(`{"prompt":"hi","max_tokens":2}`)})
	if d := engine.Describe(err); d.Status != http.StatusTooManyRequests || d.Code != 3040 || d.RetryAfter <= 0 {
		t.Fatalf("rejectIfBusy with the slot taken: %+v", d)
	}
	queued := make(chan error, 1)
	go func() {
		_, err := eng.Run(ctx, phi2, engine.Input{JSON: []byte(`{"prompt":"hi","max_tokens":2}`)})
		queued <- err
	}()
	// Once the queued request waits, it is the second of two admitted, and
	// a third is refused at once.
	depth := eng.Metrics().QueueDepth.WithLabelValues(phi2)
	for queued := (&dto.Metric{}); depth.Write(queued) != nil || queued.GetGauge().GetValue() != 1; {
		if ctx.Err() != nil {
			t.Fatal("the second request never queued")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err = eng.Run(ctx, phi2, engine.Input{JSON: []byte(`{"prompt":"hi","max_tokens":2}`)})
	if d := engine.Describe(err); d.Status != http.StatusTooManyRequests {
		t.Fatalf("third request with one running and one queued: %+v", d)
	}
	select {
	case err := <-queued:
		t.Fatalf("the queued request finished while the slot was held: %v", err)
	default:
	}

	// Cancelling the long generation frees the slot for the queued request.
	stopLong()
	var last engine.StreamEvent
	for ev := range long {
		last = ev
	}
	if last.Usage != nil {
		t.Fatal("the long generation finished by itself before it was cancelled; the test proves nothing")
	}
	if err := <-queued; err != nil {
		t.Fatalf("queued request after the cancel: %v", err)
	}
	if _, err := eng.Run(reject, phi2, engine.Input{JSON: []byte(`{"prompt":"hi","max_tokens":2}`)}); err != nil {
		t.Fatalf("rejectIfBusy with the slot free again: %v", err)
	}
}

func TestPromptBeyondTheContextWindowIs413(t *testing.T) {
	eng, _ := sharedEngine(t)
	ctx := testCtx(t, 2*time.Minute)
	// phi-2's window is 2048 tokens, below the synthetic model's 4096: the
	// catalog's window is what counts. Each " x" is at least one token.
	long := strings.Repeat(" x", 2100)
	for _, body := range []string{
		`{"prompt":"` + long + `","max_tokens":2}`,
		`{"messages":[{"role":"user","content":"` + long + `"}],"max_tokens":2,"stream":true}`,
	} {
		out, err := eng.Run(ctx, phi2, engine.Input{JSON: []byte(body)})
		if _, isStream := out.(*engine.TextStream); isStream {
			_, _, _, err = collect(out)
		}
		if d := engine.Describe(err); d.Status != http.StatusRequestEntityTooLarge || d.Code != 3006 || !strings.Contains(d.Message, "context window of 2048 tokens") {
			t.Errorf("%.40s…: %+v", body, d)
		}
	}
	ok := run(t, ctx, eng, phi2, `{"prompt":"`+strings.Repeat(" x", 500)+`","max_tokens":2}`)
	if ok.Usage.PromptTokens < 500 {
		t.Errorf("a prompt within the window counts %d tokens", ok.Usage.PromptTokens)
	}
}

func TestToolsAndJSONModeOnTheRealServer(t *testing.T) {
	eng, _ := sharedEngine(t)
	ctx := testCtx(t, 2*time.Minute)
	// The synthetic template has no tool support: both Workers AI shapes are
	// accepted and described in the prompt, which then counts many more tokens.
	plain := run(t, ctx, eng, llama, `{"messages":[{"role":"user","content":"Weather in Paris?"}],"max_tokens":4}`)
	var gen *engine.GenerationOutput
	for _, tools := range []string{
		`[{"name":"getWeather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]`,
		`[{"type":"function","function":{"name":"getWeather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`,
	} {
		gen = run(t, ctx, eng, llama, `{"messages":[{"role":"user","content":"Weather in Paris?"}],"max_tokens":4,"tools":`+tools+`}`)
		if gen.Usage.PromptTokens <= plain.Usage.PromptTokens+10 {
			t.Errorf("tools %s: %d prompt tokens, %d without: the tools are not in the prompt", tools, gen.Usage.PromptTokens, plain.Usage.PromptTokens)
		}
	}
	// JSON mode: Ollama constrains the output to the schema, and the
	// response is the parsed value. A schema with one boolean keeps even a
	// random model's answer short.
	schema := `{"type":"json_schema","json_schema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}`
	gen = run(t, ctx, eng, llama, `{"prompt":"Are you OK? Answer in JSON","max_tokens":64,"seed":2,"response_format":`+schema+`}`)
	obj, isObject := gen.Response.(map[string]any)
	if _, isBool := obj["ok"].(bool); !isObject || !isBool || len(obj) != 1 {
		t.Errorf("JSON mode response %#v, want {\"ok\": true|false}", gen.Response)
	}
}

func TestOllamaKilledMidStreamGivesAnErrorEventAndTheNextRequestSucceeds(t *testing.T) {
	eng, b := sharedEngine(t)
	ctx := testCtx(t, 2*time.Minute)
	// The tiny synthetic llama writes ~2,000 tokens a second. Sampled at
	// temperature 1.5 with seed 1 (longStory) it ends after 56 tokens, in
	// ~5 ms, which a kill on a machine loaded by the other test packages
	// missed; greedy, it runs ~900 tokens (half a second) before its first
	// end of sequence. Should the generation still end before the kill
	// lands (a stream that ends with its usage, which proves nothing
	// either way), the test tries again, up to three times; a killed
	// stream reported as a normal end every time still fails.
	greedy := fmt.Sprintf(`{"prompt":"Write a very long story","raw":true,"stream":true,"max_tokens":%s,"temperature":0}`, catalogWindow(t, eng, llama))
	var pid int
	var last engine.StreamEvent
	for attempt := 1; attempt <= 3; attempt++ {
		events := startStream(t, ctx, eng, llama, greedy)
		b.mu.Lock()
		pid = b.srv.PID()
		b.mu.Unlock()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for ev := range events {
			last = ev
		}
		if last.Err != nil {
			break
		}
		t.Logf("attempt %d: the generation ended before the kill landed (%+v); again", attempt, last.Usage)
	}
	if last.Err == nil {
		t.Fatalf("stream after the server was killed ended with %+v, want an error event", last)
	}
	t.Logf("error event: %s", engine.Describe(last.Err).Message)
	gen := run(t, ctx, eng, llama, `{"prompt":"Are you back?","max_tokens":8}`)
	if gen.Response == "" || b.srv.PID() == pid {
		t.Errorf("after the restart: %q from pid %d (killed %d)", gen.Response, b.srv.PID(), pid)
	}
}

// demoEngine serves the shared test home (the demo set) through a fresh
// backend, which it returns too; the caller closes the engine.
func demoEngine(t *testing.T) (*engine.Engine, *Backend) {
	t.Helper()
	requireOllama(t)
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.Home = testHome
	b := &Backend{Logger: testLogger(t)}
	eng, err := engine.New(cat, cfg, map[string]engine.Backend{Kind: b}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return eng, b
}

func TestEveryLLMOfTheDemoSetIsServedSyntheticWithoutStartingAServer(t *testing.T) {
	eng, b := demoEngine(t)
	defer eng.Close()
	n := 0
	for _, e := range eng.Catalog().Entries() {
		if e.Task != engine.TaskTextGeneration {
			continue
		}
		st := eng.Status(context.Background(), e)
		if e.NoLocalPath {
			// No local model to stand in for: the user maps it in the config.
			if st.Installed || !strings.Contains(st.Problem, `{ollama: "`) {
				t.Errorf("%s (no local path): %+v, want not installed with the config line", e.ID, st)
			}
			continue
		}
		if have := installedOllamaVersion(home.Resolve(testHome, os.Getenv)); e.MinOllama != "" && olderVersion(have, e.MinOllama) {
			// The installed Ollama cannot run the architecture: not installed,
			// naming the version needed, whatever could stand in.
			if st.Installed || !strings.Contains(st.Problem, "needs Ollama "+e.MinOllama) {
				t.Errorf("%s (needs Ollama %s, %s installed): %+v", e.ID, e.MinOllama, have, st)
			}
			continue
		}
		n++
		if !st.Installed || !st.Installation.Synthetic || st.Installation.Source != "ollama:"+engine.SyntheticLlamaTag || st.Installation.Bytes == 0 {
			t.Errorf("%s: %+v", e.ID, st)
		}
	}
	if n < 50 {
		t.Errorf("%d text-generation models served by the demo set, want today's catalog and the retired IDs", n)
	}
	if b.srv != nil {
		t.Error("checking installations started an Ollama server")
	}
}

func TestEngineCloseStopsTheManagedServer(t *testing.T) {
	eng, b := demoEngine(t)
	ctx := testCtx(t, time.Minute)
	run(t, ctx, eng, llama, `{"prompt":"hi","max_tokens":2}`)
	run(t, ctx, eng, phi2, `{"prompt":"hi","max_tokens":2}`) // a second model on the same server
	b.mu.Lock()
	pid, users := b.srv.PID(), b.users
	b.mu.Unlock()
	if users != 2 {
		t.Errorf("%d models use the server, want 2", users)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if b.srv != nil {
		t.Error("the backend still holds a server after the engine closed")
	}
	if err := syscall.Kill(-pid, 0); err != syscall.ESRCH {
		t.Errorf("the server's process group %d still exists after Close (kill -0: %v)", pid, err)
	}
}

func TestClientDisconnectCancelsTheOllamaRequest(t *testing.T) {
	eng, _ := sharedEngine(t)
	srv := httptest.NewServer(httpapi.New(eng, httpapi.Options{}).Handler())
	defer srv.Close()
	ctx := testCtx(t, time.Minute)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/client/v4/accounts/acct/ai/run/"+phi2,
		strings.NewReader(longStory(t, eng, phi2)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(first, `data: {"response":`) {
		t.Fatalf("first line %q: %v", first, err)
	}
	resp.Body.Close() // the client goes away mid-generation

	// phi-2 has one slot: once the abandoned generation stops, it is free.
	reject := engine.WithOptions(ctx, engine.RunOptions{RejectIfBusy: true})
	for {
		_, err := eng.Run(reject, phi2, engine.Input{JSON: []byte(`{"prompt":"hi","max_tokens":2}`)})
		if err == nil {
			break
		}
		if engine.KindOf(err) != engine.KindCapacity || ctx.Err() != nil {
			t.Fatalf("the abandoned generation still holds the slot: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A model whose architecture needs a newer Ollama than the one in use (the
// embedded 0.17.4) answers 503 naming both versions; one with no local path
// answers 503 with the config line that maps it, and serves once mapped.
func TestCatalogRulesAgainstTheRealOllama(t *testing.T) {
	eng, _ := demoEngine(t)
	defer eng.Close()
	ctx := testCtx(t, time.Minute)
	_, err := eng.Run(ctx, "@cf/google/gemma-4-26b-a4b-it", engine.Input{JSON: []byte(`{"prompt":"hi","max_tokens":2}`)})
	if d := engine.Describe(err); d.Status != 503 || !strings.Contains(d.Message, "0.20.0") || !strings.Contains(d.Message, "0.17") {
		t.Errorf("gemma-4 on Ollama 0.17: %+v, want 503 naming 0.20.0 and the version in use", d)
	}
	_, err = eng.Run(ctx, "@cf/moonshotai/kimi-k2.6", engine.Input{JSON: []byte(`{"prompt":"hi","max_tokens":2}`)})
	if d := engine.Describe(err); d.Status != 503 || !strings.Contains(d.Message, `models."@cf/moonshotai/kimi-k2.6": {ollama: "qwen3:30b-a3b"}`) {
		t.Errorf("kimi-k2.6: %+v, want 503 with the config line", d)
	}
	gen := run(t, ctx, eng, "@cf/meta/llama-3-8b-instruct", `{"prompt":"hi","max_tokens":2,"seed":1}`)
	if gen == nil {
		t.Error("a retired ID did not answer")
	}
}

func TestOlderVersion(t *testing.T) {
	for _, c := range []struct {
		a, b  string
		older bool
	}{
		{"0.17.4", "0.20.0", true}, {"0.20.0", "0.20.0", false}, {"0.21.1", "0.20.0", false},
		{"0.17.4", "0.14.3", false}, {"v0.9", "0.10.0", true}, {"0.20.0-rc2", "0.20.0", false},
		{"0.0.0", "0.20.0", true}, {"dev", "0.20.0", false}, {"1", "0.20.0", false},
	} {
		if got := olderVersion(c.a, c.b); got != c.older {
			t.Errorf("olderVersion(%q, %q) = %v, want %v", c.a, c.b, got, c.older)
		}
	}
}

func TestNoLocalPathNeedsAMapping(t *testing.T) {
	e := &engine.Entry{ID: "@cf/zai-org/glm-5.3", NoLocalPath: true}
	if err := noLocalPath(engine.ModelSpec{Entry: e}); engine.Describe(err).Status != 503 {
		t.Errorf("unmapped: %v, want 503", err)
	}
	if err := noLocalPath(engine.ModelSpec{Entry: e, Config: engine.ModelConfig{Ollama: "qwen3:30b-a3b"}}); err != nil {
		t.Errorf("mapped: %v, want served", err)
	}
}

// longStory is a streamed request for as many tokens as the model's context
// window allows (more is refused): long enough to act on mid-stream.
func longStory(t *testing.T, eng *engine.Engine, model string) string {
	t.Helper()
	return fmt.Sprintf(`{"prompt":"Write a very long story","raw":true,"stream":true,"max_tokens":%s,"temperature":1.5,"seed":1}`, catalogWindow(t, eng, model))
}

// catalogWindow is the catalog's context window of model.
func catalogWindow(t *testing.T, eng *engine.Engine, model string) string {
	t.Helper()
	e, ok := eng.Catalog().Lookup(model)
	if !ok {
		t.Fatalf("%s is not in the catalog", model)
	}
	return e.Properties["context_window"]
}
