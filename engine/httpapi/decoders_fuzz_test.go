package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// fuzzRoute is one request decoder the fuzzer drives, with the error shape
// its clients parse.
type fuzzRoute struct {
	name  string
	build func(model, contentType string, body []byte) *http.Request
	shape func(body []byte) bool
}

func restShape(body []byte) bool {
	var env restEnvelope
	return json.Unmarshal(body, &env) == nil && !env.Success && len(env.Errors) == 1 &&
		env.Errors[0].Code != 0 && env.Errors[0].Message != ""
}

func bindingShape(body []byte) bool {
	var e bindingError
	return json.Unmarshal(body, &e) == nil && e.InternalCode != 0 && e.Message != "" && e.Name != ""
}

func openAIShape(body []byte) bool {
	var e openAIError
	return json.Unmarshal(body, &e) == nil && e.Error.Message != "" && e.Error.Type != ""
}

// fuzzHandler serves the real engine and catalog over the fake backend, as
// newTestServer does, but in process: the fuzzer runs thousands of
// requests a second through it.
//
// It also returns one model per decoder: per task, and per model-specific
// schema (the reranker, bge-m3, qwen3-embedding, embeddinggemma).
func fuzzHandler(f *testing.F, home string) (http.Handler, []string) {
	cat, err := engine.LoadCatalog()
	if err != nil {
		f.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.Home = home
	seen := map[string]bool{}
	var models []string
	for _, e := range cat.Entries() {
		cfg.Models[e.ID] = engine.ModelConfig{Backend: "fake"}
		if decoder := string(e.Task) + "/" + e.Schema; !seen[decoder] {
			seen[decoder] = true
			models = append(models, e.ID)
		}
	}
	eng, err := engine.New(cat, cfg, map[string]engine.Backend{"fake": fakeBackend{}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { eng.Close() })
	// A small body limit keeps "no unbounded allocation" checkable: nothing
	// past it is read.
	return New(eng, Options{MaxBodyBytes: 64 << 10, RequestTimeout: 10 * time.Second}).Handler(), models
}

// FuzzDecoders sends arbitrary bodies, content types and model IDs through
// every request decoder: the REST route of each task (JSON and raw image
// bodies), the binding protocol, and the OpenAI chat and embeddings routes.
// Every answer must be a success or a 4xx in the route's error shape; a 5xx
// only where the fake model was told to fail; no answer may name a path
// under the engine's home.
func FuzzDecoders(f *testing.F) {
	home := f.TempDir()
	h, decoders := fuzzHandler(f, home)
	pick := func(model string, i int) string {
		if model != "" {
			return model
		}
		return decoders[i%len(decoders)]
	}
	routes := []fuzzRoute{}
	for _, id := range decoders {
		routes = append(routes, fuzzRoute{name: "rest " + id, shape: restShape,
			build: func(model, ct string, body []byte) *http.Request {
				if model == "" {
					model = id
				}
				return httptest.NewRequest(http.MethodPost, runPath+url.PathEscape(model), bytes.NewReader(body))
			}})
	}
	routes = append(routes,
		fuzzRoute{name: "binding", shape: bindingShape, build: func(model, ct string, body []byte) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/run?version=3", bytes.NewReader(body))
			r.Header.Set("cf-consn-model-id", pick(model, len(body)))
			return r
		}},
		fuzzRoute{name: "openai chat", shape: openAIShape, build: func(_, _ string, body []byte) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
		}},
		fuzzRoute{name: "openai embeddings", shape: openAIShape, build: func(_, _ string, body []byte) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/v1/embeddings", bytes.NewReader(body))
		}},
		fuzzRoute{name: "openai transcriptions", shape: openAIShape, build: func(_, _ string, body []byte) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/v1/audio/transcriptions", bytes.NewReader(body))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=B")
			return r
		}},
	)

	seeds := []string{
		`{"text":"hello"}`, `{"text":["a","b"],"pooling":"cls"}`, `{"image":[1,2,3]}`, `{"image":"aGVsbG8="}`,
		`{"text":"Hallo","source_lang":"de","target_lang":"en"}`, `{"prompt":"tell me","max_tokens":5}`,
		`{"messages":[{"role":"user","content":"hi"}],"stream":true}`, `{"inputs":{"text":"x"},"options":{"rejectIfBusy":true}}`,
		`{"inputs":{"prompt":"x"},"options":{"keep_alive":"5m"}}`, `{"model":"@cf/baai/bge-base-en-v1.5","input":["a"]}`,
		`{"model":"@cf/meta/llama-3.1-8b-instruct","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`,
		`{"prompt":"x","tools":[{"name":"f","parameters":{"type":"object"}}],"response_format":{"type":"json_object"}}`,
		`{"query":"q","contexts":[{"text":"a"},{"text":"q b"}],"top_k":1}`, `{"contexts":[{"text":"a"}]}`,
		`{"queries":["q"],"documents":"d","instruction":"i"}`, `{"text":"good","truncate_inputs":false}`,
		"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF\r\n--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--B--\r\n",
		`{"audio":[82,73,70,70]}`, `{"audio":"UklGRg==","beam_size":3,"task":"translate","language":"de"}`,
		"\x89PNG\r\n\x1a\n", "", "null", "[]", `{"text":` + strings.Repeat("[", 500),
	}
	for i, s := range seeds {
		f.Add(uint8(i), "", "application/json", []byte(s))
		f.Add(uint8(i+3), "", "", []byte(s))
	}
	f.Add(uint8(0), "@cf/../../etc/passwd", "application/json", []byte(`{"text":"x"}`))
	f.Add(uint8(4), "@cf/baai/bge-base-en-v1.5", "application/octet-stream", []byte("raw"))

	f.Fuzz(func(t *testing.T, route uint8, model, contentType string, body []byte) {
		rt := routes[int(route)%len(routes)]
		req := rt.build(model, contentType, body)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		out := rec.Body.Bytes()
		if strings.Contains(string(out), home) {
			t.Fatalf("%s: answer names the engine's home: %s", rt.name, out)
		}
		switch {
		case res.StatusCode == http.StatusOK:
			return
		case res.StatusCode >= 500 && bytes.Contains(body, []byte("FAIL")): // the fake model's failure
			return
		case res.StatusCode < 400 || res.StatusCode >= 500:
			t.Fatalf("%s: status %d for %q: %s", rt.name, res.StatusCode, body, out)
		}
		if !rt.shape(out) {
			t.Fatalf("%s: status %d in the wrong error shape: %s", rt.name, res.StatusCode, out)
		}
	})
}
