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
