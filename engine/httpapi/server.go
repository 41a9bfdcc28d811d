// Package httpapi serves the engine over HTTP: the Workers AI REST API, the
// binding protocol workerd and wrangler speak, the catalog API, the
// OpenAI-compatible routes, and health and metrics.
package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/gateway"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options configure the HTTP surfaces.
type Options struct {
	// APIToken, when set, is required as "Authorization: Bearer …" on every
	// route but /healthz.
	APIToken string
	// MaxBodyBytes caps request bodies (413/3006 beyond it).
	MaxBodyBytes int64
	// RequestTimeout bounds one inference (408/3007 beyond it).
	RequestTimeout time.Duration
	Log            *slog.Logger
	// Gateway, when set, serves the Batch API (queueRequest), the response
	// cache, rate limits and usage; without it, requests go straight to the
	// engine and queueRequest is refused.
	Gateway *gateway.Gateway
}

// Server holds the routes.
type Server struct {
	eng  *engine.Engine
	gw   *gateway.Gateway
	opts Options
	log  *slog.Logger
}

// New returns a server over eng.
func New(eng *engine.Engine, opts Options) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = engine.DefaultMaxBodyBytes
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Server{eng: eng, gw: opts.Gateway, opts: opts, log: opts.Log}
}

// Handler returns the complete HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	const acct = "/client/v4/accounts/{account}"
	// REST (Workers AI) and the wrangler dev proxy, which speaks the binding protocol.
	mux.HandleFunc("POST "+acct+"/ai/run/proxy", s.handleBinding)
	mux.HandleFunc("POST "+acct+"/ai/run/{model...}", s.handleREST)
	// The binding protocol, as workerd's Ai class sends it to its fetcher.
	mux.HandleFunc("POST /run", s.handleBinding)
	mux.HandleFunc("POST /ai-gateway/run", s.handleBinding)
	mux.HandleFunc("GET /ai-api/models/search", s.handleBindingSearch)
	// Catalog.
	mux.HandleFunc("GET "+acct+"/ai/models/search", s.handleSearch)
	mux.HandleFunc("GET "+acct+"/ai/models/schema", s.handleSchema)
	// OpenAI-compatible routes.
	for _, prefix := range []string{acct + "/ai/v1", "/v1"} {
		mux.HandleFunc("POST "+prefix+"/chat/completions", s.handleChatCompletions)
		mux.HandleFunc("POST "+prefix+"/embeddings", s.handleEmbeddings)
		mux.HandleFunc("GET "+prefix+"/models", s.handleOpenAIModels)
		mux.HandleFunc("POST "+prefix+"/responses", s.handleResponses)
		mux.HandleFunc("POST "+prefix+"/audio/transcriptions", s.handleAudio("transcribe"))
		mux.HandleFunc("POST "+prefix+"/audio/translations", s.handleAudio("translate"))
	}
	// Model control.
	mux.HandleFunc("POST /edgeinfer/v1/models/load", s.handleLoad)
	mux.HandleFunc("POST /edgeinfer/v1/models/unload", s.handleUnload)
	mux.HandleFunc("GET /edgeinfer/v1/models", s.handleModels)
	mux.HandleFunc("GET /edgeinfer/v1/usage", s.handleUsage)
	// Operations.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.eng.Metrics().Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeEnvelopeError(w, engine.Errorf(engine.KindNotFound, "No route for %s %s", r.Method, r.URL.Path))
	})
	return s.recoverPanics(unwrapForwardedBinding(s.authenticate(refuseDotSegments(mux))))
}

// refuseDotSegments answers a path with "." or ".." segments or an empty
// one in its middle with the route's error instead of net/http's 307
// redirect to the cleaned path: a model ID is never ".", and a client
// following the redirect would run another model than it named.
func refuseDotSegments(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		segs := strings.Split(strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/"), "/")
		for _, seg := range segs {
			if seg == "." || seg == ".." || (seg == "" && p != "/") {
				if strings.Contains(p, "/ai/run/") {
					writeEnvelopeError(w, &engine.Error{Kind: engine.KindInvalidModelName, Message: "The model name is invalid"})
				} else {
					writeEnvelopeError(w, engine.Errorf(engine.KindNotFound, "No route for %s %s", r.Method, p))
				}
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	if err := s.eng.Ready(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// authenticate enforces the API token, compared in constant time.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.opts.APIToken == "" {
		return next
	}
	want := []byte(s.opts.APIToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
			writeJSON(w, http.StatusForbidden, envelope{Result: nil, Success: false,
				Errors: []envelopeError{{Code: 10000, Message: "Authentication error"}}, Messages: []string{}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a 500 instead of a dropped connection;
// the panic is a bug and is logged as one.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "path", r.URL.Path, "panic", v)
				writeEnvelopeError(w, engine.Internal(errors.New("panic")))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// readBody reads a request body under the size limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return s.readBodyUpTo(w, r, s.opts.MaxBodyBytes)
}

// maxAudioJSONBytes bounds a request body for a speech-recognition model:
// its audio as a JSON array of 0-255 integers takes up to four bytes per
// audio byte ("255,"), plus room for the options.
const maxAudioJSONBytes = 4*engine.MaxAudioBytes + 1<<20

// bodyLimit is the body size limit for a request to model: the server's,
// raised for speech-recognition models so that a file up to
// engine.MaxAudioBytes fits in any of the forms Workers AI takes.
func (s *Server) bodyLimit(model string) int64 {
	if e, ok := s.eng.Catalog().Lookup(model); ok && e.Task == engine.TaskSpeechRecognition {
		return max(s.opts.MaxBodyBytes, maxAudioJSONBytes)
	}
	return s.opts.MaxBodyBytes
}

// readBodyUpTo reads a request body of at most limit bytes.
func (s *Server) readBodyUpTo(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, engine.TooLarge("", "body exceeds %d bytes", limit)
	}
	if err != nil {
		return nil, &engine.Error{Kind: engine.KindIncomplete, Message: "Request is missing headers or body: body could not be read", Err: err}
	}
	return body, nil
}

// requestContext bounds one inference by the configured timeout.
func (s *Server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	if s.opts.RequestTimeout > 0 {
		return context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	}
	return context.WithCancel(r.Context())
}

// newRequestID returns a random UUID-shaped ID for cf-ai-req-id.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
