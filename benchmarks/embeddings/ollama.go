package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/edgeinfer/edgeinfer/benchmarks/loadgen"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/llm/ollamaserver"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// The Ollama peer: the embeddings server many users run, /api/embed on a
// GGUF of the same weights (`models synth` writes it into the BGE model's
// ollama/ folder: F32, [CLS] pooling), one text per request, with
// Ollama's num_thread set to edgeinfer's thread count. Ollama 0.17.4 runs
// an embedding model one sequence at a time (its scheduler loads embedding
// models with parallel 1), so many callers queue there.

// ollamaRun is one closed-loop run against Ollama.
type ollamaRun struct {
	callers int
	res     loadgen.Result
}

// ollamaSection measures Ollama at 1 and concurrency callers, edgeinfer
// over HTTP at 1 caller for the same comparison (overHTTP is its run at
// concurrency callers), and prints a table; only for the fp32 variant. A missing server binary or
// GGUF is reported in the table, not fatal: the rest of the report stands.
func ollamaSection(ctx context.Context, ggufDir, variant string, hs *httpServer, overHTTP loadgen.Result, texts []string, threads, concurrency int, warmup, d time.Duration) {
	fmt.Printf("\n## Ollama peer\n\n")
	if variant != "fp32" {
		fmt.Println("Run with --variant fp32: the peer's GGUF holds the fp32 weights.")
		return
	}
	fmt.Printf("Ollama /api/embed on %s (F32 GGUF of the same weights, [CLS] pooling; the rows above pool by mean: the same FLOPs), num_thread %d, one text per request.\n\n", ggufDir, threads)
	fmt.Println("| configuration | texts/s | p50 | p99 | errors |")
	fmt.Println("|---|---|---|---|---|")
	runs, err := runOllama(ctx, ggufDir, texts, threads, []int{1, concurrency}, warmup, d)
	if err != nil {
		fmt.Printf("| Ollama /api/embed | failed: %v | | | |\n", err)
		return
	}
	single := loadgen.ClosedLoop(ctx, 1, warmup, d/2, hs.call)
	row := func(name string, r loadgen.Result) {
		fmt.Printf("| %s | %.1f | %s | %s | %d |\n", name, r.ItemsPerSecond(),
			r.Percentile(0.5).Round(time.Microsecond*100), r.Percentile(0.99).Round(time.Microsecond*100), r.Errors)
	}
	for _, r := range runs {
		row(fmt.Sprintf("Ollama /api/embed, %d caller%s", r.callers, plural(r.callers)), r.res)
	}
	row("edgeinfer over HTTP, 1 caller", single)
	row(fmt.Sprintf("edgeinfer over HTTP, %d callers (3)", concurrency), overHTTP)
	fmt.Printf("\nedgeinfer / Ollama over HTTP: %.2fx with 1 caller, %.2fx with %d callers\n",
		single.ItemsPerSecond()/runs[0].res.ItemsPerSecond(), overHTTP.ItemsPerSecond()/runs[1].res.ItemsPerSecond(), concurrency)
	for _, r := range append(runs, ollamaRun{1, single}) {
		if r.res.FirstErr != nil {
			fmt.Printf("first error: %v\n", r.res.FirstErr)
		}
	}
}

// runOllama starts a managed Ollama server with a private model store,
// creates the model from ggufDir and runs each caller count for d after
// warmup. The runs are drained (loadgen.Drained), not cut at the window's
// end: with Ollama's one sequence at a time, a call among 64 callers waits
// for the 63 before it, which on a full-size model is a good part of a
// window, and a cut-off call would both be lost and leave the server busy
// with it while the next run starts.
func runOllama(ctx context.Context, ggufDir string, texts []string, threads int, callers []int, warmup, d time.Duration) ([]ollamaRun, error) {
	if _, err := os.Stat(filepath.Join(ggufDir, "model.gguf")); err != nil {
		return nil, fmt.Errorf("no GGUF (run `edgeinfer models synth --only %s`, which writes %s/model.gguf): %w", model, synth.BGEOllamaDir, err)
	}
	store, err := os.MkdirTemp("", "ollama-peer-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(store)
	// A managed server, never one at OLLAMA_HOST: its settings (threads,
	// parallelism, other models loaded) are unknown.
	os.Unsetenv("OLLAMA_HOST")
	srv, err := ollamaserver.Start(ctx, ollamaserver.Options{
		Binary:    home.Resolve("", os.Getenv).OllamaBin,
		ModelsDir: filepath.Join(store, "models"),
		KeepAlive: "-1",
		Env:       []string{"HOME=" + store}, // Ollama's key file
	})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	if err := ollamaserver.EnsureModel(ctx, srv.Client(), synth.BGEOllamaTag, ggufDir); err != nil {
		return nil, err
	}
	embed := ollamaEmbedder(srv.URL().String()+"/api/embed", threads, max(callers[0], callers[len(callers)-1]))
	if _, err := embed(ctx, texts[0]); err != nil { // loads the model
		return nil, err
	}
	warm := time.Now()
	for i := 0; time.Since(warm) < warmup; i++ {
		if _, err := embed(ctx, texts[i%len(texts)]); err != nil {
			return nil, err
		}
	}
	var runs []ollamaRun
	for _, n := range callers {
		pk := newPicker(n)
		res := loadgen.Drained(ctx, n, d, func(ctx context.Context, w int) (int, error) {
			return embed(ctx, texts[pk.pick(w)%len(texts)])
		})
		runs = append(runs, ollamaRun{n, res})
	}
	return runs, nil
}

// ollamaEmbedder returns a call that posts one text to /api/embed and
// reads the whole answer, as httpRun does for edgeinfer.
func ollamaEmbedder(url string, threads, conns int) func(ctx context.Context, text string) (int, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	return func(ctx context.Context, text string) (int, error) {
		body, _ := json.Marshal(map[string]any{"model": synth.BGEOllamaTag, "input": text, "options": map[string]any{"num_thread": threads}})
		req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			return 0, err
		}
		if res.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("HTTP %d", res.StatusCode)
		}
		return 1, nil
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
