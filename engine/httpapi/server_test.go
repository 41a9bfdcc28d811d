package httpapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

const runPath = "/client/v4/accounts/acct123/ai/run/"

// newTestServer serves the real engine and catalog with every model routed
// to the fake backend.
func newTestServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.Home = t.TempDir()
	for _, e := range cat.Entries() {
		cfg.Models[e.ID] = engine.ModelConfig{Backend: "fake"}
	}
	eng, err := engine.New(cat, cfg, map[string]engine.Backend{"fake": fakeBackend{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(eng, opts).Handler())
	t.Cleanup(func() { srv.Close(); eng.Close() })
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url, contentType string, body string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

type restEnvelope struct {
	Result   json.RawMessage `json:"result"`
	Success  bool            `json:"success"`
	Errors   []envelopeError `json:"errors"`
	Messages []string        `json:"messages"`
}

func decodeEnvelope(t *testing.T, r response) restEnvelope {
	t.Helper()
	var env restEnvelope
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("not an envelope: %s", r.body)
	}
	if env.Errors == nil || env.Messages == nil {
		t.Fatalf("envelope lacks errors/messages arrays: %s", r.body)
	}
	return env
}

func TestRESTEmbeddingsEnvelope(t *testing.T) {
	srv := newTestServer(t, Options{})
	// curl -d sends form encoding; the body is still JSON.
	r := do(t, "POST", srv.URL+runPath+"@cf/baai/bge-base-en-v1.5", "application/x-www-form-urlencoded", `{"text":["hello","hi"]}`, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || r.header.Get("cf-ai-req-id") == "" {
		t.Fatalf("status %d, headers %v: %s", r.status, r.header, r.body)
	}
	env := decodeEnvelope(t, r)
	var out engine.EmbeddingsOutput
	if err := json.Unmarshal(env.Result, &out); err != nil || !env.Success {
		t.Fatalf("result %s: %v", env.Result, err)
	}
	if out.Shape != [2]int{2, 2} || out.Data[0][0] != 5 || out.Data[1][0] != 2 || out.Pooling != "mean" {
		t.Fatalf("wrong embeddings %+v", out)
	}
}

func TestRESTPercentEncodedModel(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "POST", srv.URL+runPath+"@cf%2Fmeta%2Fm2m100-1.2b", "application/json", `{"text":"hallo","source_lang":"de","target_lang":"en"}`, nil)
	env := decodeEnvelope(t, r)
	if r.status != 200 || string(env.Result) != `{"translated_text":"de\u003een:hallo"}` {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestRESTRawBinaryImage(t *testing.T) {
	srv := newTestServer(t, Options{})
	img := "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 92)
	r := do(t, "POST", srv.URL+runPath+"@cf/microsoft/resnet-50", "image/png", img, nil)
	env := decodeEnvelope(t, r)
	var out []engine.Classification
	if err := json.Unmarshal(env.Result, &out); err != nil || r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if out[0].Label != "BYTES 100" {
		t.Fatalf("raw body did not reach the model intact: %+v", out)
	}
	// The same image as a number array.
	r = do(t, "POST", srv.URL+runPath+"@cf/microsoft/resnet-50", "", `{"image":[137,80,78,71]}`, nil)
	if env := decodeEnvelope(t, r); !strings.Contains(string(env.Result), "BYTES 4") {
		t.Fatalf("number array: %s", r.body)
	}
}

func TestRESTErrors(t *testing.T) {
	srv := newTestServer(t, Options{MaxBodyBytes: 1 << 10})
	tests := []struct {
		name, model, body string
		status, code      int
		mention           string
	}{
		{"unknown model", "@cf/meta/llama-9000", `{"prompt":"x"}`, 400, 5007, "@cf/meta/llama-9000"},
		{"invalid model name", "not-a-model", `{"prompt":"x"}`, 404, 3042, "invalid"},
		{"bad input names field", "@cf/baai/bge-small-en-v1.5", `{"text":["a",""]}`, 400, 5006, "text[1]"},
		{"wrong pooling", "@cf/baai/bge-small-en-v1.5", `{"text":"a","pooling":"max"}`, 400, 5006, "pooling"},
		{"not json", "@cf/baai/bge-small-en-v1.5", `hello`, 400, 5006, "JSON object"},
		{"empty body", "@cf/baai/bge-small-en-v1.5", ``, 400, 3003, "body"},
		{"too large", "@cf/baai/bge-small-en-v1.5", `{"text":"` + strings.Repeat("a", 2000) + `"}`, 413, 3006, "too large"},
		{"capacity", "@cf/baai/bge-small-en-v1.5", `{"text":"busy"}`, 429, 3040, "Capacity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, "POST", srv.URL+runPath+tt.model, "application/json", tt.body, nil)
			env := decodeEnvelope(t, r)
			if r.status != tt.status || env.Success || len(env.Errors) != 1 || env.Errors[0].Code != tt.code {
				t.Fatalf("got %d %s, want %d/%d", r.status, r.body, tt.status, tt.code)
			}
			if !strings.Contains(env.Errors[0].Message, tt.mention) {
				t.Fatalf("message %q does not mention %q", env.Errors[0].Message, tt.mention)
			}
			if tt.status == 429 && r.header.Get("Retry-After") != "3" {
				t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
			}
		})
	}
}

func TestRESTStreamingFormat(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "POST", srv.URL+runPath+"@cf/meta/llama-2-7b-chat-int8", "application/json",
		`{"messages":[{"role":"user","content":"one two three"}],"stream":true}`, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d ct %q", r.status, r.header.Get("Content-Type"))
	}
	want := "data: {\"response\":\"one\"}\n\n" +
		"data: {\"response\":\" two\"}\n\n" +
		"data: {\"response\":\" three\"}\n\n" +
		"data: {\"response\":\"\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":3,\"total_tokens\":6}}\n\n" +
		"data: [DONE]\n\n"
	if string(r.body) != want {
		t.Fatalf("stream:\n%q\nwant\n%q", r.body, want)
	}
}

// A legacy-schema model's tool calls reach a stream too (workers-ai-provider's
// streamText reads a top-level tool_calls array): one event with the calls in
// the non-streamed answer's shape, before the usage event.
func TestRESTStreamToolCalls(t *testing.T) {
	srv := newTestServer(t, Options{})
	tools := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]`
	r := do(t, "POST", srv.URL+runPath+"@cf/qwen/qwen3-30b-a3b-fp8", "application/json",
		`{"messages":[{"role":"user","content":"CALL now"}],"stream":true,`+tools+`}`, nil)
	want := "data: {\"response\":\"CALL\"}\n\n" +
		"data: {\"response\":\" now\"}\n\n" +
		"data: {\"response\":\"\",\"tool_calls\":[{\"name\":\"get_weather\",\"arguments\":{\"q\":\"CALL now\"}}]}\n\n" +
		"data: {\"response\":\"\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n" +
		"data: [DONE]\n\n"
	if r.status != 200 || string(r.body) != want {
		t.Fatalf("status %d, stream:\n%q\nwant\n%q", r.status, r.body, want)
	}
	// The same request unstreamed: the same calls in the answer.
	r = do(t, "POST", srv.URL+runPath+"@cf/qwen/qwen3-30b-a3b-fp8", "application/json",
		`{"messages":[{"role":"user","content":"CALL now"}],`+tools+`}`, nil)
	if env := decodeEnvelope(t, r); !strings.Contains(string(env.Result), `"tool_calls":[{"name":"get_weather","arguments":{"q":"CALL now"}}]`) {
		t.Fatalf("unstreamed: %s", env.Result)
	}
}

func TestRESTStreamErrorEvent(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "POST", srv.URL+runPath+"@cf/meta/llama-2-7b-chat-int8", "", `{"prompt":"ok FAIL","stream":true}`, nil)
	body := string(r.body)
	if !strings.HasPrefix(body, "data: {\"response\":\"ok\"}\n\n") || !strings.Contains(body, "event: error\ndata: {\"errors\":[{\"code\":5000") || strings.Contains(body, "[DONE]") {
		t.Fatalf("stream with error:\n%s", body)
	}
}

func TestBindingProtocol(t *testing.T) {
	srv := newTestServer(t, Options{})
	headers := map[string]string{"cf-consn-model-id": "@cf/baai/bge-small-en-v1.5", "cf-consn-sdk-version": "2.0.0"}
	for _, path := range []string{"/run?version=3", runPath + "proxy"} {
		t.Run(path, func(t *testing.T) {
			r := do(t, "POST", srv.URL+path, "application/json", `{"inputs":{"text":"abc"},"options":{}}`, headers)
			// workerd returns parsed JSON only for exactly this content type.
			if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d ct %q: %s", r.status, r.header.Get("Content-Type"), r.body)
			}
			var out engine.EmbeddingsOutput
			if err := json.Unmarshal(r.body, &out); err != nil || out.Shape != [2]int{1, 2} {
				t.Fatalf("binding result must be unwrapped: %s", r.body)
			}
		})
	}
}

// TestBindingVersion compares ?version= as a number: 3 and later are the
// current binding protocol, anything older or not a number is the
// deprecated SDK's 405/5019.
func TestBindingVersion(t *testing.T) {
	srv := newTestServer(t, Options{})
	headers := map[string]string{"cf-consn-model-id": "@cf/baai/bge-small-en-v1.5", "cf-consn-sdk-version": "2.0.0"}
	for _, c := range []struct {
		version string
		ok      bool
	}{{"", false}, {"1", false}, {"2", false}, {"3", true}, {"4", true}, {"10", true}, {"abc", false}, {"-3", false}, {"3.5", false}} {
		r := do(t, "POST", srv.URL+"/run?version="+c.version, "application/json", `{"inputs":{"text":"abc"},"options":{}}`, headers)
		switch {
		case c.ok && r.status != 200:
			t.Errorf("version=%q: status %d, want 200: %s", c.version, r.status, r.body)
		case !c.ok && (r.status != 405 || !strings.Contains(string(r.body), "5019")):
			t.Errorf("version=%q: status %d %s, want 405 with code 5019", c.version, r.status, r.body)
		}
	}
}

func TestBindingErrorsAreInferenceUpstreamErrors(t *testing.T) {
	srv := newTestServer(t, Options{})
	tests := []struct {
		name, path, model, body string
		status, code            int
	}{
		{"unknown model", "/run?version=3", "@cf/meta/nope", `{"inputs":{"prompt":"x"}}`, 400, 5007},
		{"bad input", "/run?version=3", "@cf/meta/m2m100-1.2b", `{"inputs":{"text":"x"}}`, 400, 5006},
		{"no model header", "/run?version=3", "", `{"inputs":{}}`, 400, 3003},
		{"no inputs", "/run?version=3", "@cf/meta/m2m100-1.2b", `{"options":{}}`, 400, 3003},
		{"old sdk", "/run?version=2", "@cf/meta/m2m100-1.2b", `{"inputs":{}}`, 405, 5019},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.model != "" {
				h["cf-consn-model-id"] = tt.model
			}
			r := do(t, "POST", srv.URL+tt.path, "application/json", tt.body, h)
			var e bindingError
			if err := json.Unmarshal(r.body, &e); err != nil || r.status != tt.status || e.InternalCode != tt.code || e.Name == "" || e.Description == "" {
				t.Fatalf("got %d %s, want %d/%d", r.status, r.body, tt.status, tt.code)
			}
		})
	}
}

func TestBindingStreamIsRawSSE(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "POST", srv.URL+"/run?version=3", "application/json", `{"inputs":{"prompt":"a b","stream":true},"options":{}}`,
		map[string]string{"cf-consn-model-id": "@cf/microsoft/phi-2"})
	if r.header.Get("Content-Type") != "text/event-stream" || !strings.HasSuffix(string(r.body), "data: [DONE]\n\n") {
		t.Fatalf("ct %q body %q", r.header.Get("Content-Type"), r.body)
	}
}

func TestAPIToken(t *testing.T) {
	srv := newTestServer(t, Options{APIToken: "s3cret"})
	body := `{"text":"a"}`
	for _, auth := range []string{"", "Bearer wrong", "s3cret", "Bearer s3cret-and-more"} {
		r := do(t, "POST", srv.URL+runPath+"@cf/baai/bge-small-en-v1.5", "", body, map[string]string{"Authorization": auth})
		env := decodeEnvelope(t, r)
		if r.status != 403 || env.Errors[0].Code != 10000 {
			t.Fatalf("auth %q: got %d %s", auth, r.status, r.body)
		}
	}
	if r := do(t, "POST", srv.URL+runPath+"@cf/baai/bge-small-en-v1.5", "", body, map[string]string{"Authorization": "Bearer s3cret"}); r.status != 200 {
		t.Fatalf("right token refused: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", srv.URL+"/metrics", "", "", nil); r.status != 403 {
		t.Fatalf("/metrics must sit behind the token, got %d", r.status)
	}
	if r := do(t, "GET", srv.URL+"/healthz", "", "", nil); r.status != 200 {
		t.Fatalf("/healthz needs no token, got %d", r.status)
	}
}

func TestModelsSearch(t *testing.T) {
	srv := newTestServer(t, Options{})
	search := func(query string) (objs []engine.SearchObject, info resultInfo) {
		r := do(t, "GET", srv.URL+"/client/v4/accounts/a/ai/models/search"+query, "", "", nil)
		var env struct {
			Result     []engine.SearchObject `json:"result"`
			ResultInfo resultInfo            `json:"result_info"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil || r.status != 200 {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		return env.Result, env.ResultInfo
	}
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	total := len(cat.Entries())
	all, info := search("")
	if len(all) != min(total, 50) || info.TotalCount != total {
		t.Fatalf("search lists %d models (total %d), want the first 50 of %d", len(all), info.TotalCount, total)
	}
	if objs, _ := search("?task=Text%20Embeddings"); len(objs) != 7 {
		t.Fatalf("task filter: %d", len(objs))
	}
	if objs, _ := search("?search=@cf/meta/llama-2-13b-chat-awq"); len(objs) != 1 || objs[0].Name != "@hf/thebloke/llama-2-13b-chat-awq" {
		t.Fatalf("alias search: %+v", objs)
	}
	lastPage, onLast := (total+4)/5, total-5*((total-1)/5)
	if objs, info := search(fmt.Sprintf("?per_page=5&page=%d", lastPage)); len(objs) != onLast || info.Count != onLast || info.Page != lastPage {
		t.Fatalf("paging: %d objects, %+v", len(objs), info)
	}
}

func TestModelsSchema(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "GET", srv.URL+"/client/v4/accounts/a/ai/models/schema?model=@cf/baai/bge-large-en-v1.5", "", "", nil)
	env := decodeEnvelope(t, r)
	var schema struct{ Input, Output map[string]any }
	if err := json.Unmarshal(env.Result, &schema); err != nil || schema.Input["properties"] == nil || schema.Output == nil {
		t.Fatalf("schema: %s", r.body)
	}
	r = do(t, "GET", srv.URL+"/client/v4/accounts/a/ai/models/schema?model=@cf/x/y", "", "", nil)
	if env := decodeEnvelope(t, r); r.status != 400 || env.Errors[0].Code != 5007 {
		t.Fatalf("unknown model schema: %d %s", r.status, r.body)
	}
}

func TestOpenAIChatCompletions(t *testing.T) {
	srv := newTestServer(t, Options{})
	for _, prefix := range []string{"/v1", "/client/v4/accounts/a/ai/v1"} {
		r := do(t, "POST", srv.URL+prefix+"/chat/completions", "application/json",
			`{"model":"@cf/meta/llama-2-7b-chat-int8","messages":[{"role":"user","content":[{"type":"text","text":"x y"}]}],"max_tokens":1}`, nil)
		var out struct {
			Object  string
			Choices []struct {
				Message struct{ Role, Content string }
			}
			Usage chatUsage
		}
		if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if out.Object != "chat.completion" || out.Choices[0].Message.Content != "x" || out.Usage.CompletionTokens != 1 {
			t.Fatalf("completion %+v", out)
		}
	}
}

func TestOpenAIChatStream(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "POST", srv.URL+"/v1/chat/completions", "application/json",
		`{"model":"@cf/microsoft/phi-2","messages":[{"role":"user","content":"p q"}],"stream":true}`, nil)
	var text strings.Builder
	var sawUsage, sawDone bool
	sc := bufio.NewScanner(strings.NewReader(string(r.body)))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			sawDone = true
			continue
		}
		var chunk struct {
			Object  string
			Choices []struct{ Delta struct{ Content string } }
			Usage   *chatUsage
		}
		if err := json.Unmarshal([]byte(line), &chunk); err != nil || chunk.Object != "chat.completion.chunk" {
			t.Fatalf("bad chunk %q", line)
		}
		text.WriteString(chunk.Choices[0].Delta.Content)
		sawUsage = sawUsage || chunk.Usage != nil
	}
	if text.String() != "p q" || !sawUsage || !sawDone {
		t.Fatalf("text %q usage %v done %v", text.String(), sawUsage, sawDone)
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "POST", srv.URL+"/v1/embeddings", "application/json", `{"model":"@cf/baai/bge-base-en-v1.5","input":["abc","de"]}`, nil)
	var out struct {
		Object string
		Data   []struct {
			Object    string
			Index     int
			Embedding []float32
		}
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		}
	}
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || len(out.Data) != 2 || out.Data[1].Embedding[0] != 2 || out.Usage.PromptTokens == 0 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r = do(t, "POST", srv.URL+"/v1/embeddings", "application/json", `{"model":"@cf/baai/bge-base-en-v1.5","input":"abc","encoding_format":"base64"}`, nil)
	want := float32Base64([]float32{3, 0.5})
	if !strings.Contains(string(r.body), `"embedding":"`+want+`"`) {
		t.Fatalf("base64 embedding: %s", r.body)
	}
	r = do(t, "POST", srv.URL+"/v1/embeddings", "application/json", `{"model":"@cf/baai/bge-base-en-v1.5","input":[]}`, nil)
	var e openAIError
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != 400 || e.Error.Param != "text" {
		t.Fatalf("empty input: %d %s", r.status, r.body)
	}
}

func TestMetricsCountRequests(t *testing.T) {
	srv := newTestServer(t, Options{})
	do(t, "POST", srv.URL+runPath+"@cf/baai/bge-small-en-v1.5", "", `{"text":"a"}`, nil)
	r := do(t, "GET", srv.URL+"/metrics", "", "", nil)
	if !strings.Contains(string(r.body), `edgeinfer_requests_total{model="@cf/baai/bge-small-en-v1.5",status="200"} 1`) {
		t.Fatalf("metrics lack the request:\n%s", r.body)
	}
}

func TestUnknownRoute(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "GET", srv.URL+"/nope", "", "", nil)
	if env := decodeEnvelope(t, r); r.status != 404 || env.Success {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestModelControlRoutes(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "POST", srv.URL+"/edgeinfer/v1/models/load", "", `{"model":"@cf/baai/bge-small-en-v1.5"}`, nil)
	if env := decodeEnvelope(t, r); r.status != 200 || !env.Success {
		t.Fatalf("load: %d %s", r.status, r.body)
	}
	var list struct{ Result []engine.ModelState }
	r = do(t, "GET", srv.URL+"/edgeinfer/v1/models", "", "", nil)
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Result) != len(cat.Entries()) {
		t.Fatalf("models: %s", r.body)
	}
	for _, m := range list.Result {
		if (m.Model == "@cf/baai/bge-small-en-v1.5") != (m.State == "loaded") {
			t.Fatalf("state of %s is %s", m.Model, m.State)
		}
	}
	r = do(t, "POST", srv.URL+"/edgeinfer/v1/models/unload", "", `{"model":"@cf/baai/bge-small-en-v1.5"}`, nil)
	if r.status != 200 {
		t.Fatalf("unload: %d %s", r.status, r.body)
	}
	r = do(t, "POST", srv.URL+"/edgeinfer/v1/models/load", "", `{"model":"@cf/nope/nope"}`, nil)
	if env := decodeEnvelope(t, r); r.status != 400 || env.Errors[0].Code != 5007 {
		t.Fatalf("load unknown: %d %s", r.status, r.body)
	}
	r = do(t, "POST", srv.URL+"/edgeinfer/v1/models/load", "", `{}`, nil)
	if env := decodeEnvelope(t, r); r.status != 400 || !strings.Contains(env.Errors[0].Message, "model") {
		t.Fatalf("load without model: %d %s", r.status, r.body)
	}
}

func TestControlRoutesNeedTheToken(t *testing.T) {
	srv := newTestServer(t, Options{APIToken: "t"})
	if r := do(t, "GET", srv.URL+"/edgeinfer/v1/models", "", "", nil); r.status != 403 {
		t.Fatalf("control route without token: %d", r.status)
	}
}

// A stream refused before its first piece answers with its own status and
// the envelope, not a 200 with an error event.
func TestStreamRefusedBeforeFirstPieceGetsItsStatus(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "POST", srv.URL+runPath+"@cf/meta/llama-2-7b-chat-int8", "", `{"prompt":"FAIL now","stream":true}`, nil)
	env := decodeEnvelope(t, r)
	if r.status != 500 || r.header.Get("Content-Type") != "application/json" || env.Errors[0].Code != 5000 {
		t.Fatalf("%d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
}
