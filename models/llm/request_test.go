package llm

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine"
)

func ptr[T any](v T) *T { return &v }

func TestSamplingMapsEveryWorkersAIParameter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     engine.GenerationInput
		runner runnerOptions
		want   map[string]any
	}{
		{
			name: "defaults still bound the generation and set temperature",
			in:   engine.GenerationInput{MaxTokens: engine.DefaultMaxTokens, Temperature: engine.DefaultTemperature},
			want: map[string]any{"num_predict": 256, "temperature": 0.6},
		},
		{
			name: "temperature 0 is sent, not dropped as a zero value",
			in:   engine.GenerationInput{MaxTokens: 8, Temperature: 0},
			want: map[string]any{"num_predict": 8, "temperature": 0.0},
		},
		{
			name: "every optional parameter",
			in: engine.GenerationInput{MaxTokens: 100, Temperature: 1.5, TopP: ptr(0.9), TopK: ptr(40), Seed: ptr(int64(9999999999)),
				RepetitionPenalty: ptr(1.1), FrequencyPenalty: ptr(0.5), PresencePenalty: ptr(0.25)},
			runner: runnerOptions{NumCtx: 2048, NumThread: 2},
			want: map[string]any{"num_predict": 100, "temperature": 1.5, "top_p": 0.9, "top_k": 40, "seed": int64(9999999999),
				"repeat_penalty": 1.1, "frequency_penalty": 0.5, "presence_penalty": 0.25, "num_ctx": 2048, "num_thread": 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sampling(&tc.in, tc.runner)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("sampling = %v\nwant       %v", got, tc.want)
			}
			// Ollama must read them, after the trip through JSON, as the
			// options they are meant to be.
			raw, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var sent map[string]any
			if err := json.Unmarshal(raw, &sent); err != nil {
				t.Fatal(err)
			}
			var o api.Options
			if err := o.FromMap(sent); err != nil {
				t.Fatalf("Ollama rejects the options: %v", err)
			}
			if o.NumPredict != tc.in.MaxTokens || float64(o.Temperature) != float64(float32(tc.in.Temperature)) {
				t.Errorf("Ollama reads num_predict %d temperature %v", o.NumPredict, o.Temperature)
			}
		})
	}
}

func TestBuildRequestPicksChatOrRawCompletion(t *testing.T) {
	plan := requestPlan{Tag: "llama2:7b", Runner: runnerOptions{NumCtx: 4096}, KeepAlive: &api.Duration{Duration: -1}}
	t.Run("prompt becomes a user turn of a chat", func(t *testing.T) {
		req, err := buildRequest(&engine.GenerationInput{Prompt: "Hi", MaxTokens: 5}, plan)
		if err != nil {
			t.Fatal(err)
		}
		c := req.Chat
		if c == nil || req.Generate != nil {
			t.Fatalf("want a chat request, got %+v", req)
		}
		if c.Model != "llama2:7b" || len(c.Messages) != 1 || c.Messages[0].Role != "user" || c.Messages[0].Content != "Hi" {
			t.Errorf("chat %+v", c)
		}
		if c.Stream == nil || !*c.Stream || c.Truncate == nil || *c.Truncate || c.KeepAlive != plan.KeepAlive {
			t.Errorf("stream %v truncate %v keep_alive %v: want streaming, no truncation, the plan's keep-alive", c.Stream, c.Truncate, c.KeepAlive)
		}
		if c.Options["num_ctx"] != 4096 {
			t.Errorf("options %v lack the runner's num_ctx", c.Options)
		}
	})
	t.Run("raw prompt skips the template", func(t *testing.T) {
		req, err := buildRequest(&engine.GenerationInput{Prompt: "[INST] Hi [/INST]", Raw: true, MaxTokens: 5}, plan)
		if err != nil {
			t.Fatal(err)
		}
		g := req.Generate
		if g == nil || req.Chat != nil || !g.Raw || g.Prompt != "[INST] Hi [/INST]" || g.Truncate == nil || *g.Truncate {
			t.Fatalf("want a raw, untruncated completion, got %+v", req)
		}
	})
	t.Run("messages keep their roles and order", func(t *testing.T) {
		msgs := []engine.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello"}, {Role: "user", Content: "Bye"}}
		req, err := buildRequest(&engine.GenerationInput{Messages: msgs, Raw: true, MaxTokens: 5}, plan)
		if err != nil {
			t.Fatal(err)
		}
		if req.Chat == nil || len(req.Chat.Messages) != 4 {
			t.Fatalf("want a chat of 4 messages (raw applies to prompts only), got %+v", req)
		}
		for i, m := range msgs {
			if req.Chat.Messages[i].Role != m.Role || req.Chat.Messages[i].Content != m.Content {
				t.Errorf("message %d = %+v, want %+v", i, req.Chat.Messages[i], m)
			}
		}
	})
}

func TestResponseFormat(t *testing.T) {
	schema := `{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`
	for _, tc := range []struct {
		name string
		in   engine.GenerationInput
		want string
	}{
		{"none", engine.GenerationInput{}, ""},
		{"json_object", engine.GenerationInput{ResponseFormat: "json_object"}, `"json"`},
		{"json_schema as Workers AI documents it", engine.GenerationInput{ResponseFormat: "json_schema", Schema: json.RawMessage(schema)}, schema},
		{"json_schema as OpenAI wraps it", engine.GenerationInput{ResponseFormat: "json_schema", Schema: json.RawMessage(`{"name":"person","strict":true,"schema":` + schema + `}`)}, schema},
		{"a schema with a property called schema", engine.GenerationInput{ResponseFormat: "json_schema", Schema: json.RawMessage(`{"type":"object","properties":{"schema":{"type":"string"}}}`)},
			`{"type":"object","properties":{"schema":{"type":"string"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := responseFormat(&tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("format = %s, want %s", got, tc.want)
			}
		})
	}
}

var weatherTool = engine.Tool{Name: "getWeather", Description: "Weather at a place",
	Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string","description":"City name"}},"required":["city"]}`)}

func TestNativeToolsConvertToOllamaFunctions(t *testing.T) {
	req, err := buildRequest(&engine.GenerationInput{Messages: []engine.Message{{Role: "user", Content: "Weather in Paris?"}}, MaxTokens: 5,
		Tools: []engine.Tool{weatherTool, {Name: "now"}}}, requestPlan{Tag: "m", NativeTools: true})
	if err != nil {
		t.Fatal(err)
	}
	tools := req.Chat.Tools
	if len(tools) != 2 || req.EmulatedTools != nil {
		t.Fatalf("tools %+v emulated %v", tools, req.EmulatedTools)
	}
	f := tools[0].Function
	city, ok := f.Parameters.Properties.Get("city")
	if tools[0].Type != "function" || f.Name != "getWeather" || f.Description != "Weather at a place" || f.Parameters.Type != "object" ||
		!ok || city.Type.String() != "string" || !reflect.DeepEqual(f.Parameters.Required, []string{"city"}) {
		t.Errorf("converted tool %+v", tools[0])
	}
	if p := tools[1].Function.Parameters; p.Type != "object" || p.Properties == nil {
		t.Errorf("a tool without parameters becomes %+v, want an empty object schema", p)
	}
	// The messages are untouched: Ollama's template renders the tools.
	if len(req.Chat.Messages) != 1 {
		t.Errorf("messages %+v", req.Chat.Messages)
	}
}

func TestEmulatedToolsAreDescribedInTheSystemPrompt(t *testing.T) {
	in := &engine.GenerationInput{MaxTokens: 5, Tools: []engine.Tool{weatherTool}, Messages: []engine.Message{
		{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Weather in Paris?"},
		{Role: "assistant", Content: `{"name":"getWeather","arguments":{"city":"Paris"}}`}, {Role: "tool", Content: `{"temp":21}`},
	}}
	req, err := buildRequest(in, requestPlan{Tag: "m"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := req.Chat.Messages
	if len(req.Chat.Tools) != 0 || len(req.EmulatedTools) != 1 || len(msgs) != 4 {
		t.Fatalf("native tools %v, emulated %v, %d messages", req.Chat.Tools, req.EmulatedTools, len(msgs))
	}
	if !strings.HasPrefix(msgs[0].Content, "Be brief.\n\n") || !strings.Contains(msgs[0].Content, `"name":"getWeather"`) ||
		!strings.Contains(msgs[0].Content, `"required":["city"]`) {
		t.Errorf("system prompt does not describe the tool: %q", msgs[0].Content)
	}
	if msgs[3].Role != "user" || msgs[3].Content != `Function result: {"temp":21}` {
		t.Errorf("tool result became %+v", msgs[3])
	}

	// Without a system message, one is added in front.
	req, err = buildRequest(&engine.GenerationInput{Prompt: "Weather?", MaxTokens: 5, Tools: []engine.Tool{weatherTool}}, requestPlan{Tag: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if m := req.Chat.Messages; len(m) != 2 || m[0].Role != "system" || m[1].Content != "Weather?" {
		t.Errorf("messages %+v", m)
	}
}

func TestParseEmulatedCall(t *testing.T) {
	tools := []engine.Tool{weatherTool, {Name: "now"}}
	for _, tc := range []struct {
		answer string
		want   *engine.ToolCall
	}{
		{`{"name":"getWeather","arguments":{"city":"Paris"}}`, &engine.ToolCall{Name: "getWeather", Arguments: map[string]any{"city": "Paris"}}},
		{" ```json\n{\"name\": \"getWeather\", \"parameters\": {\"city\": \"Oslo\"}}\n``` ", &engine.ToolCall{Name: "getWeather", Arguments: map[string]any{"city": "Oslo"}}},
		{`{"name":"now"}`, &engine.ToolCall{Name: "now", Arguments: map[string]any{}}},
		{`{"name":"launchRockets","arguments":{}}`, nil}, // not a tool offered
		{`It is sunny. {"name":"getWeather","arguments":{}}`, nil},
		{`{"name":"getWeather","arguments":"city=Paris"}`, nil},
		{`sunny`, nil},
	} {
		got, ok := parseEmulatedCall(tc.answer, tools)
		if ok != (tc.want != nil) || (ok && !reflect.DeepEqual(got, *tc.want)) {
			t.Errorf("parseEmulatedCall(%q) = %+v, %v; want %+v", tc.answer, got, ok, tc.want)
		}
	}
}

func TestContextWindowIsTheCatalogsCappedByTheModel(t *testing.T) {
	entry := func(w string) *engine.Entry { return &engine.Entry{Properties: map[string]string{"context_window": w}} }
	show := func(trained float64) *api.ShowResponse {
		return &api.ShowResponse{ModelInfo: map[string]any{"general.architecture": "llama", "llama.context_length": trained}}
	}
	for _, tc := range []struct {
		entry *engine.Entry
		show  *api.ShowResponse
		want  int
	}{
		{entry("2048"), show(4096), 2048},
		{entry("8192"), show(4096), 4096},
		{entry(""), show(4096), 4096},
		{entry("3500"), &api.ShowResponse{}, 3500},
	} {
		if got := contextWindow(tc.entry, tc.show); got != tc.want {
			t.Errorf("contextWindow(%v, %v) = %d, want %d", tc.entry.Properties, tc.show.ModelInfo, got, tc.want)
		}
	}
}

func TestConfiguredParallel(t *testing.T) {
	spec := func(n int) engine.ModelSpec { return engine.ModelSpec{Config: engine.ModelConfig{MaxBatchSize: n}} }
	t.Setenv("OLLAMA_NUM_PARALLEL", "")
	if got := configuredParallel(spec(0)); got != 0 {
		t.Errorf("nothing configured: %d", got)
	}
	t.Setenv("OLLAMA_NUM_PARALLEL", "3")
	if got := configuredParallel(spec(0)); got != 3 {
		t.Errorf("OLLAMA_NUM_PARALLEL=3: %d", got)
	}
	if got := configuredParallel(spec(2)); got != 2 {
		t.Errorf("max_batch_size 2 over OLLAMA_NUM_PARALLEL: %d", got)
	}
}
