package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/gateway"
)

// requestOptions are a Workers AI call's options: the engine's, and the
// Batch API's and AI Gateway's.
type requestOptions struct {
	engine.RunOptions
	gateway gatewayOptions
}

// gatewayOptions are options.queueRequest and options.gateway (or the
// ?queueRequest= query and the cf-aig-* headers).
type gatewayOptions struct {
	queue bool
	cache gateway.CacheOptions
}

// parseRequestOptions reads the binding options / REST "options" object.
func parseRequestOptions(raw json.RawMessage) (requestOptions, error) {
	run, err := parseOptions(raw)
	if err != nil {
		return requestOptions{}, err
	}
	opts := requestOptions{RunOptions: run}
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return opts, nil
	}
	var o struct {
		QueueRequest json.RawMessage `json:"queueRequest"`
		Gateway      *struct {
			CacheTTL  *float64        `json:"cacheTtl"`
			SkipCache json.RawMessage `json:"skipCache"`
			CacheKey  string          `json:"cacheKey"`
		} `json:"gateway"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return opts, engine.BadInput("options.gateway", "must be an object {id, cacheTtl, skipCache, cacheKey}")
	}
	if len(o.QueueRequest) > 0 {
		if opts.gateway.queue, err = parseBool(o.QueueRequest); err != nil {
			return opts, engine.BadInput("options.queueRequest", "must be a boolean")
		}
	}
	if g := o.Gateway; g != nil {
		if g.CacheTTL != nil {
			if *g.CacheTTL < 0 {
				return opts, engine.BadInput("options.gateway.cacheTtl", "must be a number of seconds, not negative")
			}
			opts.gateway.cache.TTL = time.Duration(*g.CacheTTL * float64(time.Second))
		}
		if len(g.SkipCache) > 0 {
			if opts.gateway.cache.Skip, err = parseBool(g.SkipCache); err != nil {
				return opts, engine.BadInput("options.gateway.skipCache", "must be a boolean")
			}
		}
		opts.gateway.cache.Key = g.CacheKey
	}
	return opts, nil
}

// applyGatewayHeaders reads AI Gateway's cache headers, which win over the
// options: cf-aig-cache-ttl (seconds), cf-aig-skip-cache (or its old name
// cf-skip-cache) and cf-aig-cache-key.
func applyGatewayHeaders(h http.Header, o *gatewayOptions) error {
	if v := h.Get("cf-aig-cache-ttl"); v != "" {
		secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || secs < 0 {
			return engine.BadInput("cf-aig-cache-ttl", "must be a whole number of seconds, got %q", v)
		}
		o.cache.TTL = time.Duration(secs) * time.Second
	}
	for _, name := range []string{"cf-aig-skip-cache", "cf-skip-cache"} {
		if v := h.Get(name); v != "" {
			skip, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return engine.BadInput(name, "must be true or false, got %q", v)
			}
			o.cache.Skip = o.cache.Skip || skip
		}
	}
	if v := h.Get("cf-aig-cache-key"); v != "" {
		o.cache.Key = v
	}
	return nil
}

// framing writes results and errors the way one surface frames them.
type framing struct {
	result func(http.ResponseWriter, any)
	fail   func(http.ResponseWriter, error)
}

var (
	restFraming    = framing{result: writeResult, fail: writeEnvelopeError}
	bindingFraming = framing{result: func(w http.ResponseWriter, v any) { writeJSON(w, http.StatusOK, v) }, fail: writeBindingError}
)

// answer serves one Workers AI call: a batch poll ({request_id}), a batch
// submission (queueRequest), or an inference through the gateway's cache,
// rate limits and usage metering.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, model string, in engine.Input, opts requestOptions, f framing) {
	if err := applyGatewayHeaders(r.Header, &opts.gateway); err != nil {
		f.fail(w, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	ctx = engine.WithOptions(ctx, opts.RunOptions)
	if out, ok, err := s.batchCall(ctx, r, model, in, opts.gateway.queue); ok {
		if err != nil {
			f.fail(w, err)
		} else {
			f.result(w, out)
		}
		return
	}
	res, err := s.infer(ctx, r, model, in, opts.gateway.cache)
	if err != nil {
		f.fail(w, err)
		return
	}
	if res.CacheStatus != "" {
		w.Header().Set("cf-aig-cache-status", res.CacheStatus)
	}
	if res.Stream != nil {
		writeSSE(w, res.Stream, cancel)
		return
	}
	f.result(w, resultOf(res))
}

// batchCall handles the Batch API: {request_id} polls a job (with or
// without queueRequest, as env.AI.run(model, {request_id}) sends it), and
// queueRequest submits {requests:[…]}. ok is false for any other call.
func (s *Server) batchCall(ctx context.Context, r *http.Request, model string, in engine.Input, queue bool) (out any, ok bool, err error) {
	id, poll := gateway.PollID(in.JSON)
	if !poll && !queue {
		return nil, false, nil
	}
	if s.gw == nil {
		return nil, true, engine.Errorf(engine.KindNotFound, "The Batch API (queueRequest) needs `edgeinfer serve`, which keeps the job store")
	}
	if in.JSON == nil {
		return nil, true, engine.BadInput("requests", "a queued request must be a JSON object {\"requests\": [...]}")
	}
	if poll {
		out, err = s.gw.Poll(ctx, model, bearerToken(r), id)
	} else {
		out, err = s.gw.Submit(ctx, model, bearerToken(r), in.JSON)
	}
	return out, true, err
}

// infer runs an inference through the gateway when there is one, else
// straight through the engine (the response then carries Output alone).
func (s *Server) infer(ctx context.Context, r *http.Request, model string, in engine.Input, cache gateway.CacheOptions) (gateway.Response, error) {
	if s.gw != nil {
		return s.gw.Run(ctx, gateway.Request{Model: model, Input: in, Token: bearerToken(r), Cache: cache})
	}
	out, err := s.eng.Run(ctx, model, in)
	if err != nil {
		return gateway.Response{}, err
	}
	if stream, ok := out.(*engine.TextStream); ok {
		return gateway.Response{Stream: stream}, nil
	}
	return gateway.Response{Output: out}, nil // encoded once, when written
}

// resultOf is what a response writes: the gateway's encoded answer, else the
// engine output itself.
func resultOf(res gateway.Response) any {
	if res.JSON != nil {
		return res.JSON
	}
	return res.Output
}

// handleUsage serves GET /edgeinfer/v1/usage: usage per API token (by a
// short hash, never the token) and model, with a neurons estimate.
func (s *Server) handleUsage(w http.ResponseWriter, r *http.Request) {
	if s.gw == nil {
		writeEnvelopeError(w, engine.Errorf(engine.KindNotFound, "Usage is kept by `edgeinfer serve`'s gateway"))
		return
	}
	rep, err := s.gw.Usage(r.Context(), bearerToken(r))
	if err != nil {
		writeEnvelopeError(w, err)
		return
	}
	writeResult(w, rep)
}

// bearerToken is the API token a request presents, "" for none.
func bearerToken(r *http.Request) string {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(token)
}
