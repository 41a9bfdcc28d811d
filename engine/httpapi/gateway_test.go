package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/gateway"
)

// newGatewayServer is newTestServer with the gateway on an embedded store;
// configure adjusts the configuration first.
func newGatewayServer(t *testing.T, configure func(*engine.Config)) *httptest.Server {
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
	if configure != nil {
		configure(&cfg)
	}
	eng, err := engine.New(cat, cfg, map[string]engine.Backend{"fake": fakeBackend{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := gateway.OpenLocal(filepath.Join(cfg.Home, "state", "gateway.db"), cfg.Gateway.CacheMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(eng, gateway.Options{Config: cfg, Store: store, Metrics: eng.Metrics().Registry})
	srv := httptest.NewServer(New(eng, Options{Gateway: gw}).Handler())
	t.Cleanup(func() { srv.Close(); gw.Close(); store.Close(); eng.Close() })
	return srv
}

var bindingHeaders = map[string]string{"cf-consn-model-id": "@cf/baai/bge-small-en-v1.5", "cf-consn-sdk-version": "2.0.0"}

func TestRESTQueueRequestSubmitAndPoll(t *testing.T) {
	srv := newGatewayServer(t, nil)
	url := srv.URL + runPath + "@cf%2Fbaai%2Fbge-small-en-v1.5?queueRequest=true"
	r := do(t, "POST", url, "application/json",
		`{"requests":[{"text":"one two","external_reference":"a"},{"text":["three"]}]}`, nil)
	var queued gateway.JobStatus
	if env := decodeEnvelope(t, r); r.status != 200 || json.Unmarshal(env.Result, &queued) != nil {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	if queued.Status != "queued" || queued.Model != "@cf/baai/bge-small-en-v1.5" || queued.RequestID == "" {
		t.Fatalf("submit result = %+v", queued)
	}
	var done struct {
		Responses []struct {
			ID                int             `json:"id"`
			Result            json.RawMessage `json:"result"`
			Success           bool            `json:"success"`
			ExternalReference json.RawMessage `json:"external_reference"`
		} `json:"responses"`
		Usage engine.Usage `json:"usage"`
	}
	poll := `{"request_id":"` + queued.RequestID + `"}`
	deadline := time.Now().Add(10 * time.Second)
	for done.Responses == nil {
		if time.Now().After(deadline) {
			t.Fatal("the job never finished")
		}
		r = do(t, "POST", url, "application/json", poll, nil)
		env := decodeEnvelope(t, r)
		if r.status != 200 || json.Unmarshal(env.Result, &done) != nil {
			t.Fatalf("poll: %d %s", r.status, r.body)
		}
		if done.Responses == nil && !strings.Contains(string(env.Result), `"status":"`) {
			t.Fatalf("pending poll without a status: %s", env.Result)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(done.Responses) != 2 || !done.Responses[0].Success || string(done.Responses[0].ExternalReference) != `"a"` ||
		done.Responses[1].ID != 1 || string(done.Responses[1].ExternalReference) != "null" {
		t.Fatalf("responses = %+v", done.Responses)
	}
	if !strings.Contains(string(done.Responses[1].Result), `"shape":[1,2]`) || done.Usage.PromptTokens != 4+3 {
		t.Fatalf("results %s, usage %+v", done.Responses[1].Result, done.Usage)
	}
}

func TestBindingQueueRequestSubmitAndPoll(t *testing.T) {
	srv := newGatewayServer(t, nil)
	r := do(t, "POST", srv.URL+"/run?version=3", "application/json",
		`{"inputs":{"requests":[{"text":"x"}]},"options":{"queueRequest":true}}`, bindingHeaders)
	var queued gateway.JobStatus
	if r.status != 200 || json.Unmarshal(r.body, &queued) != nil || queued.Status != "queued" {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	// env.AI.run(model, {request_id}) polls without queueRequest.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = do(t, "POST", srv.URL+"/run?version=3", "application/json",
			`{"inputs":{"request_id":"`+queued.RequestID+`"},"options":{}}`, bindingHeaders)
		if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("poll: %d %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), `"responses"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job never finished: %s", r.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasPrefix(string(r.body), `{"responses":[{"id":0,"result":{"shape":[1,2]`) {
		t.Fatalf("binding result is not the bare job result: %s", r.body)
	}
}

func TestQueueRequestErrors(t *testing.T) {
	srv := newGatewayServer(t, nil)
	url := srv.URL + runPath + "@cf/baai/bge-small-en-v1.5?queueRequest=true"
	r := do(t, "POST", url, "application/json", `{"requests":[{"text":"a"},{"text":""}]}`, nil)
	if env := decodeEnvelope(t, r); r.status != 400 || env.Errors[0].Code != 5006 || !strings.Contains(env.Errors[0].Message, "requests[1].text") {
		t.Fatalf("bad item: %d %s", r.status, r.body)
	}
	r = do(t, "POST", url, "application/json", `{"request_id":"00000000-0000-4000-8000-000000000000"}`, nil)
	if r.status != 404 {
		t.Fatalf("unknown job: %d %s", r.status, r.body)
	}
	// Without queueRequest a batch body is refused, as Workers AI does.
	r = do(t, "POST", srv.URL+runPath+"@cf/baai/bge-small-en-v1.5", "application/json", `{"requests":[{"text":"a"}]}`, nil)
	if env := decodeEnvelope(t, r); r.status != 400 || !strings.Contains(env.Errors[0].Message, "queueRequest") {
		t.Fatalf("batch body without queueRequest: %d %s", r.status, r.body)
	}
	// A server without the gateway says what is missing.
	plain := newTestServer(t, Options{})
	r = do(t, "POST", plain.URL+runPath+"@cf/baai/bge-small-en-v1.5?queueRequest=true", "application/json", `{"requests":[{"text":"a"}]}`, nil)
	if env := decodeEnvelope(t, r); r.status != 404 || !strings.Contains(env.Errors[0].Message, "edgeinfer serve") {
		t.Fatalf("queueRequest without a gateway: %d %s", r.status, r.body)
	}
}

func TestCacheHeadersOverREST(t *testing.T) {
	srv := newGatewayServer(t, nil)
	url := srv.URL + runPath + "@cf/baai/bge-small-en-v1.5"
	ttl := map[string]string{"cf-aig-cache-ttl": "3600"}
	miss := do(t, "POST", url, "application/json", `{"text":"cache me"}`, ttl)
	hit := do(t, "POST", url, "application/json", `{"text":"cache me"}`, ttl)
	if miss.header.Get("cf-aig-cache-status") != "MISS" || hit.header.Get("cf-aig-cache-status") != "HIT" {
		t.Fatalf("statuses %q then %q, want MISS then HIT", miss.header.Get("cf-aig-cache-status"), hit.header.Get("cf-aig-cache-status"))
	}
	if string(hit.body) != string(miss.body) || hit.status != 200 {
		t.Fatalf("a HIT must answer the same body:\n%s\n%s", miss.body, hit.body)
	}
	if r := do(t, "POST", url, "application/json", `{"text":"cache me"}`, nil); r.header.Get("cf-aig-cache-status") != "" {
		t.Fatalf("no TTL, yet cf-aig-cache-status %q", r.header.Get("cf-aig-cache-status"))
	}
	skip := map[string]string{"cf-aig-cache-ttl": "3600", "cf-aig-skip-cache": "true"}
	if r := do(t, "POST", url, "application/json", `{"text":"cache me"}`, skip); r.header.Get("cf-aig-cache-status") != "MISS" {
		t.Fatalf("skip: %q", r.header.Get("cf-aig-cache-status"))
	}
	keyed := map[string]string{"cf-aig-cache-ttl": "60", "cf-aig-cache-key": "k1"}
	do(t, "POST", url, "application/json", `{"text":"first"}`, keyed)
	if r := do(t, "POST", url, "application/json", `{"text":"second"}`, keyed); r.header.Get("cf-aig-cache-status") != "HIT" {
		t.Fatalf("custom key: %q", r.header.Get("cf-aig-cache-status"))
	}
	if r := do(t, "POST", url, "application/json", `{"text":"x"}`, map[string]string{"cf-aig-cache-ttl": "soon"}); r.status != 400 {
		t.Fatalf("bad TTL header: %d %s", r.status, r.body)
	}
	// Sampled generation is never cached, so no status is sent.
	r := do(t, "POST", srv.URL+runPath+"@cf/meta/llama-2-7b-chat-int8", "application/json", `{"prompt":"hi there"}`, ttl)
	if r.status != 200 || r.header.Get("cf-aig-cache-status") != "" {
		t.Fatalf("sampled generation: %d, status %q", r.status, r.header.Get("cf-aig-cache-status"))
	}
}

func TestCacheOptionsOverTheBinding(t *testing.T) {
	srv := newGatewayServer(t, nil)
	body := `{"inputs":{"text":"bound"},"options":{"gateway":{"id":"my-gw","cacheTtl":120}}}`
	first := do(t, "POST", srv.URL+"/ai-gateway/run?version=3", "application/json", body, bindingHeaders)
	second := do(t, "POST", srv.URL+"/ai-gateway/run?version=3", "application/json", body, bindingHeaders)
	if first.header.Get("cf-aig-cache-status") != "MISS" || second.header.Get("cf-aig-cache-status") != "HIT" ||
		string(first.body) != string(second.body) || second.header.Get("Content-Type") != "application/json" {
		t.Fatalf("binding cache: %q %s / %q %s", first.header.Get("cf-aig-cache-status"), first.body,
			second.header.Get("cf-aig-cache-status"), second.body)
	}
	skipped := `{"inputs":{"text":"bound"},"options":{"gateway":{"id":"my-gw","cacheTtl":120,"skipCache":true}}}`
	if r := do(t, "POST", srv.URL+"/ai-gateway/run?version=3", "application/json", skipped, bindingHeaders); r.header.Get("cf-aig-cache-status") != "MISS" {
		t.Fatalf("skipCache: %q", r.header.Get("cf-aig-cache-status"))
	}
	bad := `{"inputs":{"text":"bound"},"options":{"gateway":{"cacheTtl":-1}}}`
	if r := do(t, "POST", srv.URL+"/run?version=3", "application/json", bad, bindingHeaders); r.status != 400 {
		t.Fatalf("negative cacheTtl: %d %s", r.status, r.body)
	}
}

func TestRateLimitAndUsageOverHTTP(t *testing.T) {
	srv := newGatewayServer(t, func(cfg *engine.Config) {
		cfg.Gateway.RateLimit = true
		cfg.Models["@cf/baai/bge-small-en-v1.5"] = engine.ModelConfig{Backend: "fake", RPM: 2}
	})
	url := srv.URL + runPath + "@cf/baai/bge-small-en-v1.5"
	auth := map[string]string{"Authorization": "Bearer user-token-123"}
	for i := range 2 {
		if r := do(t, "POST", url, "application/json", `{"text":"a b"}`, auth); r.status != 200 {
			t.Fatalf("request %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := do(t, "POST", url, "application/json", `{"text":"a b"}`, auth)
	env := decodeEnvelope(t, r)
	if r.status != 429 || env.Errors[0].Code != 3040 || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d Retry-After %q: %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	r = do(t, "GET", srv.URL+"/edgeinfer/v1/usage", "", "", auth)
	if strings.Contains(string(r.body), "user-token-123") {
		t.Fatalf("usage reveals the token: %s", r.body)
	}
	var rep gateway.UsageReport
	if env := decodeEnvelope(t, r); r.status != 200 || json.Unmarshal(env.Result, &rep) != nil {
		t.Fatalf("usage: %d %s", r.status, r.body)
	}
	if len(rep.Callers) != 1 || rep.Callers[0].Caller != rep.Caller {
		t.Fatalf("usage report = %+v", rep)
	}
	u := rep.Callers[0].Models["@cf/baai/bge-small-en-v1.5"]
	if u.Requests != 2 || u.PromptTokens != 8 || u.Neurons <= 0 {
		t.Fatalf("usage = %+v, want the 2 served requests, 8 tokens and neurons", u)
	}
	m := do(t, "GET", srv.URL+"/metrics", "", "", nil)
	for _, series := range []string{"edgeinfer_usage_tokens_total", "edgeinfer_usage_neurons_total", "edgeinfer_rate_limited_total"} {
		if !strings.Contains(string(m.body), series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

// The OpenAI routes run through the gateway like the REST ones: usage is
// metered per token, rate limits apply, and the cf-aig-* cache headers
// work, a HIT answering in the OpenAI shape.
func TestOpenAIRoutesGoThroughTheGateway(t *testing.T) {
	srv := newGatewayServer(t, func(cfg *engine.Config) {
		cfg.Gateway.RateLimit = true
		cfg.Models["@cf/meta/llama-2-7b-chat-int8"] = engine.ModelConfig{Backend: "fake", RPM: 2}
	})
	auth := map[string]string{"Authorization": "Bearer openai-user"}
	chat := `{"model":"@cf/meta/llama-2-7b-chat-int8","messages":[{"role":"user","content":"one two three"}]}`
	for i := range 2 {
		if r := do(t, "POST", srv.URL+"/v1/chat/completions", "application/json", chat, auth); r.status != 200 {
			t.Fatalf("chat %d: %d %s", i+1, r.status, r.body)
		}
	}
	if r := do(t, "POST", srv.URL+"/v1/chat/completions", "application/json", chat, auth); r.status != 429 {
		t.Fatalf("chat over the model's rpm: %d %s", r.status, r.body)
	}

	cached := map[string]string{"Authorization": "Bearer openai-user", "cf-aig-cache-ttl": "60"}
	emb := `{"model":"@cf/baai/bge-small-en-v1.5","input":["cache me"]}`
	miss := do(t, "POST", srv.URL+"/v1/embeddings", "application/json", emb, cached)
	hit := do(t, "POST", srv.URL+"/v1/embeddings", "application/json", emb, cached)
	if miss.header.Get("cf-aig-cache-status") != "MISS" || hit.header.Get("cf-aig-cache-status") != "HIT" {
		t.Fatalf("cache statuses %q then %q", miss.header.Get("cf-aig-cache-status"), hit.header.Get("cf-aig-cache-status"))
	}
	var a, b struct {
		Object string `json:"object"`
		Data   []struct {
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if json.Unmarshal(miss.body, &a) != nil || json.Unmarshal(hit.body, &b) != nil || b.Object != "list" ||
		len(b.Data) != 1 || len(a.Data) != 1 || b.Data[0].Embedding[0] != a.Data[0].Embedding[0] {
		t.Fatalf("a HIT must answer the same embeddings in the OpenAI shape:\n%s\n%s", miss.body, hit.body)
	}

	var rep gateway.UsageReport
	r := do(t, "GET", srv.URL+"/edgeinfer/v1/usage", "", "", auth)
	if env := decodeEnvelope(t, r); r.status != 200 || json.Unmarshal(env.Result, &rep) != nil || len(rep.Callers) != 1 {
		t.Fatalf("usage: %d %s", r.status, r.body)
	}
	models := rep.Callers[0].Models
	if u := models["@cf/meta/llama-2-7b-chat-int8"]; u.Requests != 2 || u.CompletionTokens == 0 {
		t.Errorf("chat usage = %+v, want the 2 served requests", u)
	}
	if u := models["@cf/baai/bge-small-en-v1.5"]; u.Requests != 2 || u.CachedRequests != 1 || u.PromptTokens != 4 {
		t.Errorf("embeddings usage = %+v, want 2 requests, 1 from the cache, 4 tokens", u)
	}
}
