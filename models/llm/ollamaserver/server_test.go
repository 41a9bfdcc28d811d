package ollamaserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/synth"
	"github.com/ollama/ollama/api"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// requireBinary returns the installed ollama binary or fails the test.
func requireBinary(t *testing.T) string {
	t.Helper()
	bin := home.Resolve("", os.Getenv).OllamaBin
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Ollama server binary at %s: run `make setup` (or set EDGEINFER_OLLAMA_BIN): %v", bin, err)
	}
	return bin
}

// chatOnce sends one short, bounded chat request and checks the reply.
func chatOnce(t *testing.T, ctx context.Context, c *api.Client) time.Duration {
	t.Helper()
	stream := false
	req := &api.ChatRequest{
		Model:    engine.SyntheticLlamaTag,
		Messages: []api.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Explain quantum computing in simple terms"}},
		Stream:   &stream,
		Options: map[string]any{
			// Always bounded: without num_predict a random model can run to
			// 10 × num_ctx tokens; more threads than cores collapses throughput.
			"num_predict": 24,
			"num_thread":  min(2, runtime.NumCPU()),
			"seed":        42,
		},
	}
	start := time.Now()
	var got api.ChatResponse
	if err := c.Chat(ctx, req, func(r api.ChatResponse) error { got = r; return nil }); err != nil {
		t.Fatalf("chat: %v", err)
	}
	took := time.Since(start)
	if !got.Done || got.Message.Content == "" || got.EvalCount == 0 || got.PromptEvalCount == 0 {
		t.Fatalf("chat reply: done=%v content=%q eval_count=%d prompt_eval_count=%d", got.Done, got.Message.Content, got.EvalCount, got.PromptEvalCount)
	}
	if got.EvalCount > 24 {
		t.Errorf("eval_count %d exceeds num_predict 24", got.EvalCount)
	}
	t.Logf("chat: %s, %d prompt + %d generated tokens, done_reason %s: %q", took.Round(time.Millisecond), got.PromptEvalCount, got.EvalCount, got.DoneReason, got.Message.Content)
	return took
}

func TestManagedServerServesRestartsAndStops(t *testing.T) {
	bin := requireBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	models := t.TempDir()
	if err := synth.Generate(ctx, synth.Options{Preset: synth.Tiny, OutDir: models}, []string{engine.SyntheticLlamaID}, io.Discard); err != nil {
		t.Fatal(err)
	}
	modelDir := filepath.Join(models, filepath.FromSlash(engine.SyntheticLlamaID))

	t.Setenv("OLLAMA_HOST", "") // never pick up a developer's own server here
	srv, err := Start(ctx, Options{
		Binary:    bin,
		ModelsDir: t.TempDir(),
		// Ollama writes its identity key under $HOME/.ollama.
		Env:    []string{"HOME=" + t.TempDir()},
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !srv.Managed() || srv.PID() == 0 || srv.URL().Hostname() != "127.0.0.1" {
		t.Fatalf("managed=%v pid=%d url=%s; want a managed loopback server", srv.Managed(), srv.PID(), srv.URL())
	}
	c := srv.Client()

	start := time.Now()
	if err := EnsureModel(ctx, c, engine.SyntheticLlamaTag, modelDir); err != nil {
		t.Fatal(err)
	}
	t.Logf("EnsureModel created the model in %s", time.Since(start).Round(time.Millisecond))
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Models) != 1 || list.Models[0].Name != engine.SyntheticLlamaTag {
		t.Fatalf("models after EnsureModel: %+v", list.Models)
	}
	if err := EnsureModel(ctx, c, engine.SyntheticLlamaTag, modelDir); err != nil {
		t.Fatal(err)
	}
	again, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Models[0].ModifiedAt.Equal(list.Models[0].ModifiedAt) {
		t.Error("EnsureModel re-created a model that already existed")
	}

	// Regenerated weights (another seed) make the tag stale: it is created
	// again from the new GGUF.
	if err := synth.Generate(ctx, synth.Options{Preset: synth.Tiny, OutDir: models, Seed: 7}, []string{engine.SyntheticLlamaID}, io.Discard); err != nil {
		t.Fatal(err)
	}
	req, err := parseModelfile(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureModel(ctx, c, engine.SyntheticLlamaTag, modelDir); err != nil {
		t.Fatal(err)
	}
	show, err := c.Show(ctx, &api.ShowRequest{Model: engine.SyntheticLlamaTag})
	if err != nil {
		t.Fatal(err)
	}
	if !madeFrom(show.Modelfile, req.Files) {
		t.Errorf("after the GGUF changed the tag still shows %q, not the new %v", show.Modelfile, req.Files)
	}
	if madeFrom(show.Modelfile, map[string]string{"x": "sha256:" + strings.Repeat("0", 64)}) {
		t.Error("madeFrom accepts a digest the Modelfile does not name")
	}

	t.Logf("first chat (cold load): %s", chatOnce(t, ctx, c).Round(time.Millisecond))
	t.Logf("second chat (warm): %s", chatOnce(t, ctx, c).Round(time.Millisecond))

	old := srv.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for srv.Restarts() == 0 || srv.PID() == 0 || srv.PID() == old {
		if ctx.Err() != nil {
			t.Fatalf("server not restarted after SIGKILL: restarts=%d pid=%d", srv.Restarts(), srv.PID())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted as pid %d, answering %s after the kill", srv.PID(), time.Since(killed).Round(time.Millisecond))
	if err := syscall.Kill(-old, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("processes of the killed server's group survive (kill -0: %v)", err)
	}
	chatOnce(t, ctx, c)

	last := srv.PID()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-last, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("server process group %d still exists after Close (kill -0: %v)", last, err)
	}
	if _, err := c.Version(ctx); err == nil {
		t.Error("the server still answers after Close")
	}
	if srv.PID() != 0 {
		t.Errorf("PID() = %d after Close", srv.PID())
	}
}

func TestStartUsesAnExplicitOrEnvironmentServer(t *testing.T) {
	// A stand-in at the process boundary: only /api/version matters here.
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/version" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `{"version":"0.17.4"}`)
	}))
	defer fake.Close()
	// A binary that does not exist proves that nothing is started.
	noBinary := Options{Binary: filepath.Join(t.TempDir(), "missing"), StartTimeout: 5 * time.Second}

	t.Run("explicit URL", func(t *testing.T) {
		o := noBinary
		o.URL = fake.URL
		s, err := Start(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.Managed() || s.URL().String() != fake.URL {
			t.Errorf("managed=%v url=%s, want the external %s", s.Managed(), s.URL(), fake.URL)
		}
		if v, err := s.Client().Version(context.Background()); err != nil || v != "0.17.4" {
			t.Errorf("client reaches %q, %v", v, err)
		}
	})
	t.Run("OLLAMA_HOST", func(t *testing.T) {
		t.Setenv("OLLAMA_HOST", fake.URL)
		s, err := Start(context.Background(), noBinary)
		if err != nil {
			t.Fatal(err)
		}
		if s.Managed() || s.URL().String() != fake.URL {
			t.Errorf("managed=%v url=%s, want the external %s", s.Managed(), s.URL(), fake.URL)
		}
	})
	t.Run("explicit URL that does not answer", func(t *testing.T) {
		o := noBinary
		o.URL = "http://" + closedAddr(t)
		if _, err := Start(context.Background(), o); err == nil {
			t.Fatal("Start succeeded against a closed port")
		}
	})
	t.Run("silent OLLAMA_HOST falls back to the binary", func(t *testing.T) {
		t.Setenv("OLLAMA_HOST", closedAddr(t))
		_, err := Start(context.Background(), noBinary)
		if err == nil || !strings.Contains(err.Error(), "make setup") {
			t.Fatalf("err = %v, want the missing binary reported with `make setup`", err)
		}
	})
}

func closedAddr(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	return addr
}

func TestServerEnv(t *testing.T) {
	parent := []string{
		"PATH=/usr/bin", "HOME=/root", "SECRET_TOKEN=x", "CUDA_VISIBLE_DEVICES=1", "HIP_VISIBLE_DEVICES=0",
		"OLLAMA_HOST=10.0.0.1:11434", "OLLAMA_FLASH_ATTENTION=1", "GOFLAGS=-race",
	}
	got := serverEnv(parent, []string{"OLLAMA_HOST=127.0.0.1:5000", "OLLAMA_MODELS=/m", "HOME=/tmp/h"})
	want := []string{
		"PATH=/usr/bin", "HOME=/tmp/h", "CUDA_VISIBLE_DEVICES=1", "HIP_VISIBLE_DEVICES=0",
		"OLLAMA_HOST=127.0.0.1:5000", "OLLAMA_FLASH_ATTENTION=1", "OLLAMA_MODELS=/m",
	}
	if !slices.Equal(got, want) {
		t.Errorf("serverEnv =\n%q\nwant\n%q", got, want)
	}
}

func TestNextBackoff(t *testing.T) {
	for _, tc := range []struct {
		prev, uptime, want time.Duration
	}{
		{0, 0, minBackoff},
		{minBackoff, time.Second, 2 * minBackoff},
		{maxBackoff, time.Second, maxBackoff},
		{20 * time.Second, time.Second, maxBackoff},
		{maxBackoff, stableAfter, minBackoff},
	} {
		if got := nextBackoff(tc.prev, tc.uptime); got != tc.want {
			t.Errorf("nextBackoff(%s, %s) = %s, want %s", tc.prev, tc.uptime, got, tc.want)
		}
	}
}

// Start runs only the binary it is handed: given none, it starts nothing,
// even where EDGEINFER_HOME and EDGEINFER_OLLAMA_BIN name one, since the
// caller's configuration, not the environment, says where Ollama is.
func TestStartRunsOnlyTheBinaryItIsHanded(t *testing.T) {
	t.Setenv("OLLAMA_HOST", "")
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	fake := filepath.Join(dir, "bin", "ollama")
	if err := os.MkdirAll(filepath.Dir(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fake, []byte("#!/bin/sh\ntouch '"+ran+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(home.HomeEnv, dir)
	t.Setenv(home.OllamaBinEnv, fake)
	s, err := Start(context.Background(), Options{ModelsDir: t.TempDir(), StartTimeout: 2 * time.Second, Logger: testLogger(t)})
	if err == nil {
		s.Close()
	}
	if _, statErr := os.Stat(ran); statErr == nil {
		t.Fatalf("Start ran %s, which only the environment names (err %v)", fake, err)
	}
	if err == nil || !strings.Contains(err.Error(), "make setup") {
		t.Fatalf("err = %v, want no binary reported with `make setup`", err)
	}
}
