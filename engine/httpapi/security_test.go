package httpapi

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// With a token set, every route but /healthz, control and metrics included,
// needs it; a wrong token of the same length, a prefix of it or the right
// one with more appended is refused, and a refusal never echoes what was sent.
func TestTokenGuardsEveryRouteButHealthz(t *testing.T) {
	const token = "s3cret-token-0123456789"
	srv := newTestServer(t, Options{APIToken: token})
	routes := []struct{ method, path, body string }{
		{"GET", "/metrics", ""},
		{"GET", "/readyz", ""},
		{"GET", "/edgeinfer/v1/models", ""},
		{"GET", "/edgeinfer/v1/usage", ""},
		{"POST", "/edgeinfer/v1/models/load", `{"model":"@cf/baai/bge-small-en-v1.5"}`},
		{"POST", "/edgeinfer/v1/models/unload", `{"model":"@cf/baai/bge-small-en-v1.5"}`},
		{"GET", "/v1/models", ""},
		{"POST", "/v1/embeddings", `{"model":"@cf/baai/bge-small-en-v1.5","input":"x"}`},
		{"POST", "/run?version=3", `{"inputs":{"text":"x"}}`},
		{"GET", "/client/v4/accounts/a/ai/models/search", ""},
		{"POST", runPath + "@cf/baai/bge-small-en-v1.5", `{"text":"x"}`},
	}
	wrong := []string{"", "Bearer ", "Bearer s3cret-token-0123456780", "Bearer s3cret", "Bearer " + token + "x", token, "Basic " + token}
	for _, rt := range routes {
		for _, auth := range wrong {
			h := map[string]string{"cf-consn-model-id": "@cf/baai/bge-small-en-v1.5"}
			if auth != "" {
				h["Authorization"] = auth
			}
			r := do(t, rt.method, srv.URL+rt.path, "application/json", rt.body, h)
			if r.status != http.StatusForbidden {
				t.Errorf("%s %s with %q: status %d, want 403", rt.method, rt.path, auth, r.status)
			}
			if strings.Contains(string(r.body), "s3cret") {
				t.Errorf("%s %s: the refusal echoes the token: %s", rt.method, rt.path, r.body)
			}
		}
		h := map[string]string{"Authorization": "Bearer " + token, "cf-consn-model-id": "@cf/baai/bge-small-en-v1.5"}
		if r := do(t, rt.method, srv.URL+rt.path, "application/json", rt.body, h); r.status == http.StatusForbidden {
			t.Errorf("%s %s with the token: 403", rt.method, rt.path)
		}
	}
	if r := do(t, "GET", srv.URL+"/healthz", "", "", nil); r.status != http.StatusOK {
		t.Fatalf("/healthz without the token: %d", r.status)
	}
}

// A model ID that climbs out of the models directory, plain or encoded,
// is refused as a model ID by every route that takes one, before anything
// touches the file system.
func TestModelIDsCannotLeaveTheModelsDirectory(t *testing.T) {
	srv := newTestServer(t, Options{})
	ids := []string{"@cf/../../../etc/passwd", "@cf/baai/..", "@cf/./x", "../../etc/passwd", "@cf/a/b/../../../x",
		"/etc/passwd", "@cf/a\\..\\..\\x", "@cf/a/b\x00c"}
	for _, id := range ids {
		answers := []response{
			do(t, "POST", srv.URL+runPath+url.PathEscape(id), "application/json", `{"text":"x"}`, nil),
			do(t, "POST", srv.URL+"/edgeinfer/v1/models/load", "application/json", `{"model":"`+strings.NewReplacer("\\", "\\\\", "\x00", "\\u0000").Replace(id)+`"}`, nil),
		}
		if !strings.Contains(id, "\x00") { // a header cannot carry a NUL
			answers = append(answers, do(t, "POST", srv.URL+"/run?version=3", "application/json", `{"inputs":{"text":"x"}}`, map[string]string{"cf-consn-model-id": id}))
		}
		for _, r := range answers {
			if r.status < 400 || r.status >= 500 {
				t.Errorf("model %q: status %d, want a 4xx: %s", id, r.status, r.body)
			}
		}
	}
}

// No request field makes edgeinfer fetch a URL: images, LoRA names, chat
// content parts and model IDs that are URLs pointing at a listener here
// are never fetched.
func TestNoRequestFetchesAURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			c.Close()
		}
	}()
	defer ln.Close()
	target := "http://" + ln.Addr().String() + "/x.png"
	srv := newTestServer(t, Options{})
	bodies := []struct{ path, body string }{
		{runPath + "@cf/microsoft/resnet-50", `{"image":"` + target + `"}`},
		{runPath + "@cf/microsoft/resnet-50", target},
		{runPath + "@cf/mistral/mistral-7b-instruct-v0.1", `{"prompt":"x","lora":"` + target + `"}`},
		{runPath + url.PathEscape(target), `{"text":"x"}`},
		{"/v1/chat/completions", `{"model":"@cf/meta/llama-2-7b-chat-int8","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"` + target + `"}}]}]}`},
		{"/v1/embeddings", `{"model":"` + target + `","input":"x"}`},
		{"/edgeinfer/v1/models/load", `{"model":"` + target + `"}`},
	}
	for _, b := range bodies {
		do(t, "POST", srv.URL+b.path, "application/json", b.body, nil)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("edgeinfer opened %d connections to a URL named in a request", n)
	}
}
