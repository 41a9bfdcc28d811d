package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
)

// handleREST serves POST /client/v4/accounts/{account}/ai/run/{model}.
// The model arrives verbatim (@cf/meta/…) or percent-encoded (@cf%2Fmeta%2F…,
// as the official SDK sends it); the mux has already unescaped it.
func (s *Server) handleREST(w http.ResponseWriter, r *http.Request) {
	model := r.PathValue("model")
	w.Header().Set("cf-ai-req-id", newRequestID())
	body, err := s.readBodyUpTo(w, r, s.bodyLimit(model))
	if err != nil {
		writeEnvelopeError(w, err)
		return
	}
	in, opts, err := s.inputFromBody(model, body, r.Header.Get("Content-Type"))
	if err != nil {
		writeEnvelopeError(w, err)
		return
	}
	opts.gateway.queue = opts.gateway.queue || r.URL.Query().Get("queueRequest") == "true"
	s.answer(w, r, model, in, opts, restFraming)
}

// handleBinding serves the binding protocol: POST /run?version=3 with the
// model in cf-consn-model-id and body {inputs, options}, as workerd's Ai
// class sends it, and the same at /ai/run/proxy, where wrangler dev forwards it.
func (s *Server) handleBinding(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("cf-ai-req-id", newRequestID())
	if err := checkBindingVersion(r); err != nil {
		writeBindingError(w, err)
		return
	}
	model := r.Header.Get("cf-consn-model-id")
	if model == "" {
		model = r.Header.Get("mf-header-cf-consn-model-id") // as miniflare prefixes it
	}
	if model == "" {
		writeBindingError(w, &engine.Error{Kind: engine.KindIncomplete, Message: "Request is missing headers or body: cf-consn-model-id"})
		return
	}
	if _, after, ok := strings.Cut(model, ":"); ok && !strings.HasPrefix(model, "@") {
		model = after // options.prefix arrives as "prefix:model"
	}
	body, err := s.readBodyUpTo(w, r, s.bodyLimit(model))
	if err != nil {
		writeBindingError(w, err)
		return
	}
	in, opts, err := s.bindingInput(r, model, body)
	if err != nil {
		writeBindingError(w, err)
		return
	}
	s.answer(w, r, model, in, opts, bindingFraming)
}

// bindingQuery is the query of the binding URL the Worker called: the
// request's own, or the original that wrangler's proxy keeps in X-Forwarded.
func bindingQuery(r *http.Request) url.Values {
	if fwd := r.Header.Get("X-Forwarded"); fwd != "" {
		if u, err := url.Parse(fwd); err == nil {
			return u.Query()
		}
	}
	return r.URL.Query()
}

// checkBindingVersion refuses the wire formats of the deprecated
// @cloudflare/ai package (version 2 and earlier), as Workers AI does.
func checkBindingVersion(r *http.Request) error {
	q := r.URL.Query()
	if fwd := r.Header.Get("X-Forwarded"); fwd != "" { // wrangler's proxy keeps the original URL here
		if u, err := url.Parse(fwd); err == nil {
			q = u.Query()
		}
	} else if strings.HasSuffix(r.URL.Path, "/ai/run/proxy") {
		return nil
	}
	// A number, compared as one: "10" is newer than "3". Anything else is
	// no version the current SDK sends.
	if v, err := strconv.Atoi(q.Get("version")); err != nil || v < 3 {
		return &engine.Error{Kind: engine.KindDeprecatedSDK, Message: "Request trying to use deprecated SDK version"}
	}
	return nil
}

// bindingInput unpacks {inputs, options}, or the stream variant in which the
// body is one binary input and the other inputs travel in ?userInputs=
// (read by the models that take options beside a file: speech recognition).
func (s *Server) bindingInput(r *http.Request, model string, body []byte) (engine.Input, requestOptions, error) {
	ct := r.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/json") {
		in := engine.Input{Binary: body}
		if u := bindingQuery(r).Get("userInputs"); u != "" {
			in.JSON = []byte(u)
		}
		return in, requestOptions{RunOptions: optionsFromQuery(r.URL.Query())}, nil
	}
	var msg struct {
		Inputs  json.RawMessage `json:"inputs"`
		Options json.RawMessage `json:"options"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return engine.Input{}, requestOptions{}, engine.BadInput("/", "binding body must be a JSON object {inputs, options}")
	}
	if len(msg.Inputs) == 0 || bytes.Equal(msg.Inputs, []byte("null")) {
		return engine.Input{}, requestOptions{}, &engine.Error{Kind: engine.KindIncomplete, Message: "Request is missing headers or body: inputs"}
	}
	opts, err := parseRequestOptions(msg.Options)
	return engine.Input{JSON: msg.Inputs}, opts, err
}

// inputFromBody turns a REST body into an engine input. A JSON object is the
// model's input (whatever Content-Type says: curl -d sends form encoding);
// for image and audio models anything else is the raw file.
func (s *Server) inputFromBody(model string, body []byte, contentType string) (engine.Input, requestOptions, error) {
	trimmed := bytes.TrimSpace(body)
	isObject := len(trimmed) > 0 && trimmed[0] == '{'
	if entry, ok := s.eng.Catalog().Lookup(model); ok && entry.Task.TakesBinaryBody() && !isObject {
		if len(body) == 0 {
			return engine.Input{}, requestOptions{}, &engine.Error{Kind: engine.KindIncomplete, Message: "Request is missing headers or body: body"}
		}
		return engine.Input{Binary: body}, requestOptions{}, nil
	}
	if len(trimmed) == 0 {
		return engine.Input{}, requestOptions{}, &engine.Error{Kind: engine.KindIncomplete, Message: "Request is missing headers or body: body"}
	}
	var top struct {
		Options json.RawMessage `json:"options"`
	}
	if isObject {
		if err := json.Unmarshal(trimmed, &top); err != nil {
			return engine.Input{}, requestOptions{}, engine.BadInput("/", "invalid JSON: %v", err)
		}
	}
	opts, err := parseRequestOptions(top.Options)
	return engine.Input{JSON: trimmed}, opts, err
}
