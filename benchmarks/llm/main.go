// Command llm measures text generation through edgeinfer against the same
// Ollama server driven directly, same model, same run: tokens per second
// and time to first token at 1 and 4 concurrent streams. Requests carry
// per-request seeds shared by every path, so each path generates the same
// tokens. It prints a markdown report; nothing here is asserted.
//
//	go run ./benchmarks/llm --requests 32 --max-tokens 128
//
// The model is the one edgeinfer serves for --model from $EDGEINFER_HOME
// (the synthetic Llama unless a real tag was pulled); `make synth-full`
// gives the full-size synthetic for heavier figures.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/engine/httpapi"
	"github.com/edgeinfer/edgeinfer/models/llm"
	"github.com/edgeinfer/edgeinfer/models/llm/ollamaserver"
)

const prompt = "Write a story about the sea."

// path is one way of asking for a generation: it streams one request and
// reports its time to first token and its completion tokens.
type path struct {
	name string
	call func(ctx context.Context, seed int) (ttft time.Duration, tokens int, err error)
}

// sample is one finished request.
type sample struct {
	ttft   time.Duration
	tokens int
}

func main() {
	homeDir := flag.String("home", engine.DefaultHome(), "EDGEINFER_HOME with the model (and bin/ollama)")
	model := flag.String("model", "@cf/meta/llama-2-7b-chat-int8", "catalog LLM to serve")
	maxTokens := flag.Int("max-tokens", 128, "max_tokens of every request")
	requests := flag.Int("requests", 32, "requests per path, concurrency and round")
	rounds := flag.Int("rounds", 3, "rounds; the paths alternate within each, so drift hits them alike")
	threads := flag.Int("threads", max(1, runtime.NumCPU()-1), "num_thread for Ollama, for every path (edgeinfer's default for a managed server)")
	streams := flag.String("streams", "1,4", "concurrent streams to measure")
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()

	concurrencies, err := parseInts(*streams)
	if err != nil {
		log.Fatalf("--streams: %v", err)
	}
	parallel := slices.Max(concurrencies)
	installed := home.Resolve(*homeDir, os.Getenv)
	srv, err := ollamaserver.Start(ctx, ollamaserver.Options{Home: installed.Home, Binary: installed.OllamaBin, NumParallel: parallel})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// edgeinfer uses the server as an external one, so both paths reach the
	// same Ollama, model and runner.
	cat, err := engine.LoadCatalog()
	if err != nil {
		log.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.Home = *homeDir
	cfg.Models[*model] = engine.ModelConfig{MaxBatchSize: parallel, IntraOpThreads: *threads}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := engine.New(cat, cfg, map[string]engine.Backend{llm.Kind: &llm.Backend{URL: srv.URL().String(), Logger: quiet}}, quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	entry, err := cat.Resolve(*model)
	if err != nil {
		log.Fatal(err)
	}
	st := eng.Status(ctx, entry)
	if !st.Installed {
		log.Fatal(st.Problem)
	}
	if err := eng.Load(ctx, *model); err != nil {
		log.Fatal(err)
	}
	tag := strings.TrimPrefix(st.Installation.Source, "ollama:")
	numCtx, err := loadedContext(ctx, srv.Client(), tag)
	if err != nil {
		log.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, httpapi.New(eng, httpapi.Options{}).Handler())
	restURL := "http://" + ln.Addr().String() + "/client/v4/accounts/bench/ai/run/" + *model

	direct := path{"Ollama direct", func(ctx context.Context, seed int) (time.Duration, int, error) {
		return directCall(ctx, srv.Client(), tag, seed, *maxTokens, numCtx, *threads)
	}}
	inProcess := path{"edgeinfer in-process", func(ctx context.Context, seed int) (time.Duration, int, error) {
		return engineCall(ctx, eng, *model, seed, *maxTokens)
	}}
	overHTTP := path{"edgeinfer REST + SSE", func(ctx context.Context, seed int) (time.Duration, int, error) {
		return restCall(ctx, restURL, seed, *maxTokens)
	}}
	paths := []path{direct, inProcess, overHTTP}

	fmt.Printf("# LLM benchmark: %s as Ollama %s (num_ctx %d, num_thread %d)\n\n", *model, tag, numCtx, *threads)
	fmt.Printf("machine: %d CPUs, load average at start %s; Ollama %s; %d requests × %d rounds per cell, max_tokens %d\n\n",
		runtime.NumCPU(), loadAverage(), version(ctx, srv.Client()), *requests, *rounds, *maxTokens)
	for _, p := range paths { // warm the runner, the prompt cache and connections
		if _, err := measure(ctx, p, min(parallel, 4), 4, 0); err != nil {
			log.Fatalf("%s: %v", p.name, err)
		}
	}
	fmt.Println("| streams | path | tokens/s | vs direct | TTFT p50 | TTFT p90 | added p50 TTFT |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, c := range concurrencies {
		results := make([]result, len(paths))
		for r := range *rounds {
			for i, p := range paths {
				res, err := measure(ctx, p, c, *requests, r*(*requests))
				if err != nil {
					log.Fatalf("%s at %d streams: %v", p.name, c, err)
				}
				results[i].add(res)
			}
		}
		base := results[0]
		for i, p := range paths {
			res := results[i]
			fmt.Printf("| %d | %s | %.0f | %.1f %% | %s | %s | %s |\n", c, p.name, res.tokensPerSecond(),
				100*res.tokensPerSecond()/base.tokensPerSecond(), ms(res.ttft(0.5)), ms(res.ttft(0.9)), ms(res.ttft(0.5)-base.ttft(0.5)))
		}
	}
	fmt.Printf("\nload average at the end: %s\n", loadAverage())
}

// result accumulates the rounds of one path at one concurrency.
type result struct {
	samples []sample
	wall    time.Duration
}

func (r *result) add(o result) {
	r.samples = append(r.samples, o.samples...)
	r.wall += o.wall
}

func (r result) tokensPerSecond() float64 {
	tokens := 0
	for _, s := range r.samples {
		tokens += s.tokens
	}
	return float64(tokens) / r.wall.Seconds()
}

func (r result) ttft(q float64) time.Duration {
	t := make([]time.Duration, len(r.samples))
	for i, s := range r.samples {
		t[i] = s.ttft
	}
	slices.Sort(t)
	return t[min(len(t)-1, int(q*float64(len(t))))]
}

// measure runs n requests on c concurrent streams, seeds firstSeed+1… in
// order, and times the whole.
func measure(ctx context.Context, p path, c, n, firstSeed int) (result, error) {
	var mu sync.Mutex
	var res result
	var firstErr error
	next := 0
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				ttft, tokens, err := p.call(ctx, firstSeed+i+1)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				res.samples = append(res.samples, sample{ttft, tokens})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	return res, firstErr
}

// directCall sends what edgeinfer's backend sends for the same input.
func directCall(ctx context.Context, c *api.Client, tag string, seed, maxTokens, numCtx, threads int) (time.Duration, int, error) {
	stream, truncate := true, false
	req := &api.ChatRequest{Model: tag, Messages: []api.Message{{Role: "user", Content: prompt}}, Stream: &stream, Truncate: &truncate,
		Options: map[string]any{"num_predict": maxTokens, "temperature": engine.DefaultTemperature, "seed": seed, "num_ctx": numCtx, "num_thread": threads}}
	start := time.Now()
	var ttft time.Duration
	tokens, done := 0, false
	err := c.Chat(ctx, req, func(r api.ChatResponse) error {
		if ttft == 0 && r.Message.Content != "" {
			ttft = time.Since(start)
		}
		if r.Done {
			tokens, done = r.EvalCount, true
		}
		return nil
	})
	if err == nil && !done {
		err = fmt.Errorf("stream ended without done")
	}
	return ttft, tokens, err
}

func engineCall(ctx context.Context, eng *engine.Engine, model string, seed, maxTokens int) (time.Duration, int, error) {
	start := time.Now()
	out, err := eng.Run(ctx, model, engine.Input{Value: &engine.GenerationInput{Prompt: prompt, Stream: true, MaxTokens: maxTokens,
		Temperature: engine.DefaultTemperature, Seed: ptr(int64(seed))}})
	if err != nil {
		return 0, 0, err
	}
	var ttft time.Duration
	tokens := 0
	for ev := range out.(*engine.TextStream).Events {
		switch {
		case ev.Err != nil:
			err = ev.Err
		case ev.Usage != nil:
			tokens = ev.Usage.CompletionTokens
		case ttft == 0 && ev.Response != "":
			// The first piece of the answer, as the other paths time it: a
			// thinking model's reasoning comes first and does not count.
			ttft = time.Since(start)
		}
	}
	return ttft, tokens, err
}

func restCall(ctx context.Context, url string, seed, maxTokens int) (time.Duration, int, error) {
	body := fmt.Sprintf(`{"prompt":%q,"stream":true,"max_tokens":%d,"seed":%d}`, prompt, maxTokens, seed)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("status %s", resp.Status)
	}
	var ttft time.Duration
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var ev struct {
			Response string        `json:"response"`
			Usage    *engine.Usage `json:"usage"`
			Errors   []any         `json:"errors"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return 0, 0, err
		}
		switch {
		case ev.Errors != nil:
			return 0, 0, fmt.Errorf("error event %s", data)
		case ev.Usage != nil:
			return ttft, ev.Usage.CompletionTokens, nil
		case ttft == 0:
			ttft = time.Since(start)
		}
	}
	return 0, 0, fmt.Errorf("stream ended without usage: %v", sc.Err())
}

// loadedContext is the context length Ollama loaded tag with, which the
// direct path must send too or Ollama reloads the model between paths.
func loadedContext(ctx context.Context, c *api.Client, tag string) (int, error) {
	ps, err := c.ListRunning(ctx)
	if err != nil {
		return 0, err
	}
	for _, m := range ps.Models {
		if m.Name == tag || m.Model == tag {
			return m.ContextLength, nil
		}
	}
	return 0, fmt.Errorf("%s is not loaded in Ollama", tag)
}

func version(ctx context.Context, c *api.Client) string {
	v, err := c.Version(ctx)
	if err != nil {
		return "?"
	}
	return v
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func ptr[T any](v T) *T { return &v }
