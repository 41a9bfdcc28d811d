// Package ollamaserver runs Ollama as a component of edgeinfer: it reuses a
// server the user already runs, or starts the installed `ollama serve` on a
// private loopback port, keeps it alive, and creates models in it from
// model directories (GGUF + Modelfile) through the Ollama API.
package ollamaserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/envconfig"
)

// Options configures Start. Start reuses a server named by URL, or by
// OLLAMA_HOST when one answers there, and otherwise starts Binary.
type Options struct {
	// URL names a running Ollama server to use; Start fails if it does not
	// answer. Empty means: OLLAMA_HOST if set and answering, else start one.
	URL string
	// Home is edgeinfer's resolved home (home.Paths.Home): the managed
	// server's store defaults to Home/ollama.
	Home string
	// Binary is the ollama executable a managed server runs, as the
	// caller resolved it (home.Paths.OllamaBin); a managed server needs it.
	Binary string
	// ModelsDir is the managed server's model store (OLLAMA_MODELS); empty
	// means Home/ollama.
	ModelsDir string
	// NumParallel, when positive, is OLLAMA_NUM_PARALLEL: requests one
	// loaded model serves at once.
	NumParallel int
	// KeepAlive, when set, is OLLAMA_KEEP_ALIVE: how long an idle model
	// stays loaded ("5m", "-1" for ever).
	KeepAlive string
	// Env holds extra KEY=VALUE settings for the managed server, applied
	// after everything else.
	Env []string
	// StartTimeout bounds each wait for the server to answer; default 60s.
	StartTimeout time.Duration
	// Logger receives the managed server's log lines and lifecycle events;
	// nil discards them.
	Logger *slog.Logger
}

// Server is an Ollama server in use by edgeinfer, managed or external.
type Server struct {
	url     *url.URL
	client  *api.Client
	sup     *supervisor // nil for an external server
	timeout time.Duration
}

// Start connects to a running Ollama server or starts a managed one, and
// returns once it answers GET /api/version.
func Start(ctx context.Context, o Options) (*Server, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}

	if o.URL != "" {
		u, err := url.Parse(o.URL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("ollama: invalid server URL %q", o.URL)
		}
		s := newServer(u, nil, timeout)
		if err := s.ping(ctx); err != nil {
			return nil, fmt.Errorf("ollama: server at %s does not answer: %w", u, err)
		}
		log.Info("ollama: using server", "url", u.String())
		return s, nil
	}
	if strings.TrimSpace(os.Getenv("OLLAMA_HOST")) != "" {
		u := envconfig.Host()
		s := newServer(u, nil, timeout)
		if err := s.ping(ctx); err == nil {
			log.Info("ollama: using server from OLLAMA_HOST", "url", u.String())
			return s, nil
		}
		log.Warn("ollama: nothing answers at OLLAMA_HOST; starting a managed server", "url", u.String())
	}

	bin := o.Binary
	if bin == "" {
		return nil, fmt.Errorf("ollama: no server binary given (run `make setup`): %w", os.ErrNotExist)
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("ollama: no server binary at %s (run `make setup`): %w", bin, err)
	}
	models := o.ModelsDir
	if models == "" {
		if o.Home == "" {
			return nil, errors.New("ollama: a managed server needs a home or a models directory")
		}
		models = filepath.Join(o.Home, "ollama")
	}
	if err := os.MkdirAll(models, 0o755); err != nil {
		return nil, err
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	host := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	settings := []string{"OLLAMA_HOST=" + host, "OLLAMA_MODELS=" + models}
	if o.NumParallel > 0 {
		settings = append(settings, "OLLAMA_NUM_PARALLEL="+strconv.Itoa(o.NumParallel))
	}
	if o.KeepAlive != "" {
		settings = append(settings, "OLLAMA_KEEP_ALIVE="+o.KeepAlive)
	}
	env := serverEnv(os.Environ(), append(settings, o.Env...))

	s := newServer(&url.URL{Scheme: "http", Host: host}, nil, timeout)
	s.sup = newSupervisor(bin, env, log.With("component", "ollama"))
	if err := s.sup.start(); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx, true); err != nil {
		s.Close()
		return nil, fmt.Errorf("ollama: managed server did not come up: %w", err)
	}
	log.Info("ollama: managed server ready", "url", s.url.String(), "binary", bin, "models", models)
	return s, nil
}

// HTTPClient is how edgeinfer talks to any Ollama server. It has no overall
// timeout, which streaming needs (callers bound requests with their
// contexts), and keeps up to 64 idle connections per server instead of
// net/http's 2, so parallel streams reuse connections rather than opening a
// new one for every request beyond the second.
var HTTPClient = &http.Client{Transport: keepAliveTransport()}

func keepAliveTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

func newServer(u *url.URL, sup *supervisor, timeout time.Duration) *Server {
	return &Server{url: u, client: api.NewClient(u, HTTPClient), sup: sup, timeout: timeout}
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() *url.URL {
	u := *s.url
	return &u
}

// Client is an Ollama API client for the server.
func (s *Server) Client() *api.Client { return s.client }

// Managed reports whether edgeinfer started (and supervises) the server.
func (s *Server) Managed() bool { return s.sup != nil }

// PID is the process ID of the managed server, 0 when there is none.
func (s *Server) PID() int {
	if s.sup == nil {
		return 0
	}
	return s.sup.pid()
}

// Restarts counts how often the managed server was restarted after dying.
func (s *Server) Restarts() int {
	if s.sup == nil {
		return 0
	}
	return s.sup.restartCount()
}

// WaitReady blocks until the server answers, up to the start timeout; a
// managed server that died meanwhile is being restarted by then.
func (s *Server) WaitReady(ctx context.Context) error {
	return s.waitReady(ctx, false)
}

// waitReady polls GET /api/version. With failOnExit, a managed server that
// exits during the wait ends it at once with its last log lines, which is
// what a first start wants (a bad binary or store fails fast).
func (s *Server) waitReady(ctx context.Context, failOnExit bool) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	exits := 0
	if s.sup != nil {
		exits = s.sup.exitCount()
	}
	for {
		err := s.ping(ctx)
		if err == nil {
			return nil
		}
		if failOnExit && s.sup != nil && s.sup.exitCount() > exits {
			return fmt.Errorf("server exited:\n%s", s.sup.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := s.client.Version(ctx)
	return err
}

// Close stops a managed server (SIGTERM, then SIGKILL after a grace period)
// and waits for it and its runners to exit. It leaves an external server
// alone.
func (s *Server) Close() error {
	if s.sup == nil {
		return nil
	}
	return s.sup.stop(10 * time.Second)
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("ollama: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// passedPrefixes are the variables a managed server inherits: Ollama's own
// tuning knobs and the GPU selection of CUDA, ROCm and Vulkan stacks.
var passedPrefixes = []string{"OLLAMA_", "CUDA_", "NVIDIA_", "HIP_", "ROCR_", "HSA_", "GPU_", "GGML_", "VK_"}

// passedNames are the plain process settings a managed server inherits.
var passedNames = []string{"PATH", "HOME", "USER", "TMPDIR", "LANG", "LC_ALL", "LD_LIBRARY_PATH"}

// serverEnv builds the managed server's environment from the parent's: the
// passed variables, then settings (KEY=VALUE) replacing any of the same name.
func serverEnv(parent, settings []string) []string {
	vals := make(map[string]string)
	var order []string
	set := func(kv string) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return
		}
		if _, seen := vals[k]; !seen {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range parent {
		k, _, _ := strings.Cut(kv, "=")
		if inherited(k) {
			set(kv)
		}
	}
	for _, kv := range settings {
		set(kv)
	}
	env := make([]string, len(order))
	for i, k := range order {
		env[i] = k + "=" + vals[k]
	}
	return env
}

func inherited(name string) bool {
	for _, p := range passedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, n := range passedNames {
		if name == n {
			return true
		}
	}
	return false
}
