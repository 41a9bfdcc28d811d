package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

// These requests are shaped as miniflare's remote-proxy client sends them:
// to the connection string's own path, with the binding's URL in MF-URL and
// its headers behind the MF-Header- prefix.
func TestMiniflareRemoteProxyRun(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "POST", srv.URL+"/", "", `{"inputs":{"text":"abc"},"options":{}}`, map[string]string{
		"MF-URL":                         "https://workers-binding.ai/run?version=3",
		"MF-Binding":                     "AI",
		"MF-Header-content-type":         "application/json",
		"MF-Header-cf-consn-model-id":    "@cf/baai/bge-small-en-v1.5",
		"MF-Header-cf-consn-sdk-version": "2.0.0",
	})
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d ct %q: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var out engine.EmbeddingsOutput
	if err := json.Unmarshal(r.body, &out); err != nil || out.Shape != [2]int{1, 2} {
		t.Fatalf("want the unwrapped binding result: %s", r.body)
	}
}

func TestMiniflareRemoteProxyRestoresContentType(t *testing.T) {
	srv := newTestServer(t, Options{})
	// The ReadableStream variant: the body is the image, its type travels as
	// MF-Header-content-type and must not be read as a JSON body.
	r := do(t, "POST", srv.URL+"/", "", "\x89PNG....", map[string]string{
		"MF-URL":                      "https://workers-binding.ai/run?version=3&userInputs=%7B%7D",
		"MF-Binding":                  "AI",
		"MF-Header-content-type":      "image/png",
		"MF-Header-cf-consn-model-id": "@cf/microsoft/resnet-50",
	})
	var out []engine.Classification
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || len(out) == 0 || out[0].Label != "BYTES 8" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestMiniflareRemoteProxyModels(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "GET", srv.URL+"/", "", "", map[string]string{
		"MF-URL":     "https://workers-binding.ai/ai-api/models/search?task=Translation",
		"MF-Binding": "AI",
	})
	var out struct {
		Result []engine.SearchObject `json:"result"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || len(out.Result) != 1 || out.Result[0].Name != "@cf/meta/m2m100-1.2b" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestMFURLWithoutBindingIsNotRewritten(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "GET", srv.URL+"/", "", "", map[string]string{"MF-URL": "https://workers-binding.ai/ai-api/models/search"})
	if r.status != 404 {
		t.Fatalf("status %d, want 404: %s", r.status, r.body)
	}
}

// wrangler dev 3.x forwards env.AI.models() as a GET to its proxy route.
func TestWranglerProxyForwardsModelsSearch(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "GET", srv.URL+runPath+"proxy", "", "", map[string]string{
		"X-Forwarded": "https://workers-binding.ai/ai-api/models/search?task=Translation",
	})
	var out struct {
		Result []engine.SearchObject `json:"result"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || len(out.Result) != 1 || out.Result[0].Name != "@cf/meta/m2m100-1.2b" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestWranglerProxyStillRefusesOldSDKs(t *testing.T) {
	srv := newTestServer(t, Options{})
	r := do(t, "POST", srv.URL+runPath+"proxy", "application/json", `{"inputs":{"text":"x"}}`, map[string]string{
		"X-Forwarded":       "https://workers-binding.ai/run?version=2",
		"cf-consn-model-id": "@cf/baai/bge-small-en-v1.5",
	})
	var e bindingError
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != 405 || e.InternalCode != 5019 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func TestIsWranglerProxyPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/client/v4/accounts/abc/ai/run/proxy":   true,
		"/client/v4/accounts//ai/run/proxy":      false,
		"/client/v4/accounts/abc/ai/run/@cf/x/y": false,
		"/client/v4/accounts/abc/x/ai/run/proxy": false,
		"/run":                                   false,
	} {
		if got := isWranglerProxyPath(p); got != want {
			t.Errorf("isWranglerProxyPath(%q) = %v, want %v", p, got, want)
		}
	}
}
