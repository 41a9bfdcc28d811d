// Command embeddings measures text-embedding throughput on one machine in
// one run: raw ONNX Runtime at its best offline batch (the limit), edgeinfer
// in-process and over HTTP with concurrent one-text callers, and two peers
// on the same weights and threads: transformers.js on the same model files
// and Ollama's /api/embed on a GGUF of them (ollama.go). It prints a
// markdown report; nothing here is asserted.
//
//	go run ./benchmarks/embeddings --dir ~/.edgeinfer/models/@cf/baai/bge-base-en-v1.5 --variant fp32
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/benchmarks/bench"
	"github.com/edgeinfer/edgeinfer/benchmarks/corpus"
	"github.com/edgeinfer/edgeinfer/benchmarks/loadgen"
	"github.com/edgeinfer/edgeinfer/benchmarks/machine"
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/httpapi"
	"github.com/edgeinfer/edgeinfer/models/bert"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/synth"
	"github.com/edgeinfer/edgeinfer/tokenize"
)

const model = "@cf/baai/bge-base-en-v1.5"

func main() {
	dir := flag.String("dir", filepath.Join(engine.DefaultHome(), "models", model), "model directory (use the full synthetic preset for honest figures)")
	variant := flag.String("variant", "fp32", "fp32 or int8")
	threads := flag.Int("threads", runtime.NumCPU(), "ONNX Runtime intra-op threads, for every configuration")
	concurrency := flag.Int("concurrency", 64, "concurrent one-text callers")
	duration := flag.Duration("duration", 15*time.Second, "measured time per configuration (the limit and the 64-caller rows: in all, split into --rounds)")
	rounds := flag.Int("rounds", 3, "interleaved rounds of the limit, in-process and HTTP rows")
	warmup := flag.Duration("warmup", 3*time.Second, "unmeasured warm-up per configuration")
	peer := flag.Bool("peer", true, "run the transformers.js peer (needs `npm ci` in benchmarks/embeddings/peer)")
	ollama := flag.Bool("ollama", true, "run the Ollama peer (/api/embed on the GGUF of the same weights; fp32 only)")
	ollamaDir := flag.String("ollama-dir", "", "folder with the Ollama peer's model.gguf and Modelfile (default: DIR/"+synth.BGEOllamaDir+", written by `models synth`)")
	rss := flag.Bool("rss", false, "only load the model, embed once, and print RSS vs model file size")
	flag.Parse()

	if *rss {
		reportRSS(*dir, *variant, *threads)
		return
	}
	texts := corpus.Sentences(2048, 6, 38, 42) // 8–40 tokens with [CLS] and [SEP]
	ctx := context.Background()
	fmt.Printf("# Embeddings benchmark: %s (%s), %d threads, %d callers, %s per run\n\n", filepath.Base(*dir), *variant, *threads, *concurrency, *duration)
	fmt.Printf("machine: %s, %d CPUs (%s); ONNX Runtime %s\n\n", machine.CPUModel(), runtime.NumCPU(), machine.Flags(), ort.ExpectedVersion())

	lim := openLimit(*dir, *variant, *threads, texts)
	defer lim.close()
	sweepBest, bestBatch := lim.sweep(*warmup, *duration)
	eng := newEngine(*dir, *variant, *threads)
	defer eng.Close()
	fmt.Printf("edgeinfer's batch sizes: %s\n\n", calibrate.Summary(eng.Config().Paths().Home, model, "cpu"))
	pk := newPicker(*concurrency)
	embed := func(ctx context.Context, w int) (int, error) {
		_, err := eng.Run(ctx, model, engine.Input{Value: &engine.EmbeddingsInput{Text: []string{texts[pk.pick(w)%len(texts)]}, Pooling: "mean", TruncateInputs: true}})
		return 1, err
	}
	hs := serveHTTP(eng, texts, *concurrency)
	defer hs.close()
	loadgen.Drained(ctx, *concurrency, *warmup, embed)
	loadgen.Drained(ctx, *concurrency, *warmup, hs.call)
	// The limit and both engine rows alternate in rounds, so each ratio
	// compares the same few minutes of this machine; the engine rows drain
	// their calls, so no batch a round started runs into the next.
	per := (*duration / time.Duration(max(*rounds, 1))).Round(time.Millisecond)
	var inRounds, httpRounds []loadgen.Result
	rates := bench.Interleave(*rounds,
		func() float64 { return lim.rate(bestBatch, per) },
		func() float64 {
			r := loadgen.Drained(ctx, *concurrency, per, embed)
			inRounds = append(inRounds, r)
			return r.ItemsPerSecond()
		},
		func() float64 {
			r := loadgen.Drained(ctx, *concurrency, per, hs.call)
			httpRounds = append(httpRounds, r)
			return r.ItemsPerSecond()
		})
	inproc, overHTTP := loadgen.Merge(inRounds...), loadgen.Merge(httpRounds...)
	limit := bench.Mean(rates[0])
	inRatio, httpRatio := bench.RatioOf(rates[1], rates[0]), bench.RatioOf(rates[2], rates[0])
	batchSize, padding, err := bench.BatchStats(eng, model)
	check(err)
	single := loadgen.ClosedLoop(ctx, 1, time.Second, *duration/2, embed)
	half := loadgen.OpenLoop(ctx, inproc.RequestsPerSecond()/2, *duration, func(ctx context.Context, w int) (int, error) {
		_, err := eng.Run(ctx, model, engine.Input{Value: &engine.EmbeddingsInput{Text: []string{texts[w%len(texts)]}, Pooling: "mean", TruncateInputs: true}})
		return 1, err
	})

	fmt.Println("| configuration | texts/s | vs limit | p50 | p99 | errors |")
	fmt.Println("|---|---|---|---|---|---|")
	fmt.Printf("| (1) raw ONNX Runtime, batch %d of length-sorted texts (the sweep's best), whole passes over %d texts | %.1f | 1.00 | | | |\n", bestBatch, limitSample, limit)
	row := func(name string, r loadgen.Result, vs string) {
		fmt.Printf("| %s | %.1f | %s | %s | %s | %d |\n", name, r.ItemsPerSecond(), vs,
			r.Percentile(0.5).Round(time.Microsecond*100), r.Percentile(0.99).Round(time.Microsecond*100), r.Errors)
	}
	vs := func(r loadgen.Result) string { return fmt.Sprintf("%.2f", r.ItemsPerSecond()/limit) }
	row(fmt.Sprintf("(2) edgeinfer in-process, %d callers", *concurrency), inproc, inRatio.String())
	row(fmt.Sprintf("(3) edgeinfer over HTTP, %d callers", *concurrency), overHTTP, httpRatio.String())
	row("single caller (unloaded latency)", single, vs(single))
	row(fmt.Sprintf("open loop at half of (2)'s peak (%.0f req/s)", inproc.RequestsPerSecond()/2), half, vs(half))
	if *peer {
		p, err := runPeer(*dir, *variant, *threads, *concurrency, *duration, texts)
		if err != nil {
			fmt.Printf("| (4) transformers.js peer | failed: %v | | | | |\n", err)
		} else {
			fmt.Printf("| (4) transformers.js, per-request pipeline, %d concurrent | %.1f | %.2f | %.1fms | %.1fms | |\n",
				*concurrency, p.TextsPerS, p.TextsPerS/limit, p.P50, p.P99)
			fmt.Printf("| transformers.js, one batched call of 64 | %.1f | %.2f | | | |\n", p.Batch64, p.Batch64/limit)
			fmt.Printf("\n(3) / (4) = %.2fx\n", overHTTP.ItemsPerSecond()/p.TextsPerS)
		}
	}
	fmt.Printf("\n(1)–(3) ran in %d interleaved rounds of %s each (in that order); (2) and (3) vs limit are pooled over the rounds, with the range of the rounds' own ratios. The sweep (batches 1–64, %s each) measured %.1f texts/s at its best.\n\n",
		max(*rounds, 1), per, *duration/4, sweepBest)
	fmt.Println("| round | (1) raw | (2) in-process | (3) HTTP | (2) / (1) | (3) / (1) |")
	fmt.Println("|---|---|---|---|---|---|")
	for i := range rates[0] {
		fmt.Printf("| %d | %.1f | %.1f | %.1f | %.2f | %.2f |\n", i+1, rates[0][i], rates[1][i], rates[2][i], rates[1][i]/rates[0][i], rates[2][i]/rates[0][i])
	}
	fmt.Printf("\nedgeinfer batches under (2) and (3): mean size %.1f, mean padding ratio %.3f\n", batchSize, padding)
	fmt.Printf("p99 at half load / single-request p50: %.2fx\n", float64(half.Percentile(0.99))/float64(single.Percentile(0.5)))
	for _, r := range []loadgen.Result{inproc, overHTTP, single, half} {
		if r.FirstErr != nil {
			fmt.Printf("first error: %v\n", r.FirstErr)
		}
	}
	if *ollama {
		ollamaSection(ctx, cmp.Or(*ollamaDir, filepath.Join(*dir, synth.BGEOllamaDir)), *variant, hs, overHTTP, texts, *threads, *concurrency, *warmup, *duration)
	}
}

// picker walks each worker through the corpus from its own offset, so runs
// are reproducible and workers share no state.
type picker struct{ next []int }

func newPicker(workers int) *picker {
	p := &picker{next: make([]int, workers)}
	for w := range p.next {
		p.next[w] = w * 7919
	}
	return p
}

func (p *picker) pick(w int) int {
	p.next[w]++
	return p.next[w]
}

func weightsFile(variant string) string {
	if variant == "int8" {
		return "onnx/model_quantized.onnx"
	}
	return "onnx/model.onnx"
}

// limitSample is how many texts of the corpus the raw limit runs: enough
// for every length of the corpus, few enough for whole passes.
const limitSample = 256

// rawLimit is the raw ONNX Runtime limit: an evenly spaced sample of the
// corpus, pre-tokenized and sorted by length (the least padding any batcher
// can reach), cut into batches and run straight through a session in whole
// passes, so every figure covers the corpus's length mix. (Timing a window
// of batches instead measured only the shortest texts when a window held a
// few batches: 70 texts/s against 26 for a pass.)
type rawLimit struct {
	sess   *ort.Session
	seqs   [][]int64
	hidden int
}

func openLimit(dir, variant string, threads int, texts []string) *rawLimit {
	tok, err := tokenize.LoadBERT(filepath.Join(dir, "tokenizer.json"))
	check(err)
	l := &rawLimit{}
	for i := 0; i < len(texts) && len(l.seqs) < limitSample; i += max(1, len(texts)/limitSample) {
		ids, _, _, err := tok.Encode(texts[i], 512)
		check(err)
		l.seqs = append(l.seqs, ids)
	}
	slices.SortFunc(l.seqs, func(a, b []int64) int { return len(a) - len(b) })
	l.sess, err = ort.Open(filepath.Join(dir, weightsFile(variant)), ort.Options{IntraOpThreads: threads})
	check(err)
	var cfg struct {
		HiddenSize int `json:"hidden_size"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	check(err)
	check(json.Unmarshal(raw, &cfg))
	l.hidden = cfg.HiddenSize
	return l
}

func (l *rawLimit) close() { l.sess.Close() }

// rate runs whole passes at batch size bs for at least d and returns the
// texts per second.
func (l *rawLimit) rate(bs int, d time.Duration) float64 {
	passes, start := 0, time.Now()
	for passes == 0 || time.Since(start) < d {
		for i := 0; i < len(l.seqs); i += bs {
			runRaw(l.sess, l.seqs[i:min(i+bs, len(l.seqs))], l.hidden)
		}
		passes++
	}
	return float64(passes*len(l.seqs)) / time.Since(start).Seconds()
}

// sweep warms the session up and measures batch sizes 1 to 64 for a
// quarter of d each; it returns the best and its batch size.
func (l *rawLimit) sweep(warmup, d time.Duration) (best float64, bestBatch int) {
	warmed := time.Now()
	for time.Since(warmed) < warmup {
		runRaw(l.sess, l.seqs[len(l.seqs)/2:len(l.seqs)/2+8], l.hidden)
	}
	for _, bs := range []int{1, 4, 8, 16, 32, 64} {
		if rate := l.rate(bs, d/4); rate > best {
			best, bestBatch = rate, bs
		}
	}
	return best, bestBatch
}

func runRaw(sess *ort.Session, batch [][]int64, hidden int) {
	cols := 0
	for _, s := range batch {
		cols = max(cols, len(s))
	}
	ids, mask := make([]int64, len(batch)*cols), make([]int64, len(batch)*cols)
	for r, s := range batch {
		copy(ids[r*cols:], s)
		for c := range s {
			mask[r*cols+c] = 1
		}
	}
	shape := onnx.NewShape(int64(len(batch)), int64(cols))
	vals := map[string]onnx.Value{}
	for name, data := range map[string][]int64{"input_ids": ids, "attention_mask": mask, "token_type_ids": make([]int64, len(ids))} {
		t, err := onnx.NewTensor(shape, data)
		check(err)
		defer t.Destroy()
		vals[name] = t
	}
	in, err := sess.BindInputs(vals)
	check(err)
	out, err := onnx.NewEmptyTensor[float32](onnx.NewShape(int64(len(batch)), int64(cols), int64(hidden)))
	check(err)
	defer out.Destroy()
	check(sess.Run(in, []onnx.Value{out}))
}

func newEngine(dir, variant string, threads int) *engine.Engine {
	cat, err := engine.LoadCatalog()
	check(err)
	cfg := engine.DefaultConfig()
	cfg.Models[model] = engine.ModelConfig{Dir: dir, Variant: variant, IntraOpThreads: threads}
	eng, err := engine.New(cat, cfg, map[string]engine.Backend{bert.Kind: bert.Backend{}}, nil)
	check(err)
	_, err = eng.Run(context.Background(), model, engine.Input{Value: &engine.EmbeddingsInput{Text: []string{"load"}, Pooling: "mean"}})
	check(err)
	return eng
}

// httpServer serves the engine on a loopback port; call posts one text of
// the corpus as a Workers AI request.
type httpServer struct {
	srv    *http.Server
	url    string
	client *http.Client
	pk     *picker
	texts  []string
}

func serveHTTP(eng *engine.Engine, texts []string, concurrency int) *httpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	hs := &httpServer{
		srv:    &http.Server{Handler: httpapi.New(eng, httpapi.Options{}).Handler()},
		url:    "http://" + ln.Addr().String() + "/client/v4/accounts/bench/ai/run/" + model,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}},
		pk:     newPicker(concurrency),
		texts:  texts,
	}
	go hs.srv.Serve(ln)
	return hs
}

func (hs *httpServer) close() { hs.srv.Close() }

func (hs *httpServer) call(ctx context.Context, w int) (int, error) {
	body, _ := json.Marshal(map[string]string{"text": hs.texts[hs.pk.pick(w)%len(hs.texts)]})
	if _, err := loadgen.Post(ctx, hs.client, hs.url, "application/json", body); err != nil {
		return 0, err
	}
	return 1, nil
}

type peerResult struct {
	TextsPerS float64 `json:"texts_per_s"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	Batch64   float64 `json:"batch64_texts_per_s"`
}

func runPeer(dir, variant string, threads, concurrency int, d time.Duration, texts []string) (peerResult, error) {
	f, err := os.CreateTemp("", "texts-*.json")
	if err != nil {
		return peerResult{}, err
	}
	defer os.Remove(f.Name())
	check(json.NewEncoder(f).Encode(texts))
	f.Close()
	dtype := "fp32"
	if variant == "int8" {
		dtype = "q8"
	}
	cmd := exec.Command("node", "run.mjs", dir, dtype, fmt.Sprint(threads), fmt.Sprint(concurrency), fmt.Sprint(int(d.Seconds())), f.Name())
	cmd.Dir = filepath.Join("benchmarks", "embeddings", "peer")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return peerResult{}, err
	}
	var p peerResult
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return p, json.Unmarshal([]byte(lines[len(lines)-1]), &p)
}

// reportRSS prints the resident memory with the model loaded against the size
// of its weights file.
func reportRSS(dir, variant string, threads int) {
	eng := newEngine(dir, variant, threads)
	defer eng.Close()
	info, err := os.Stat(filepath.Join(dir, weightsFile(variant)))
	check(err)
	rss := vmRSS()
	fmt.Printf("RSS with %s (%s) loaded: %.1f MB; weights file %.1f MB; ratio %.2f\n",
		filepath.Base(dir), variant, float64(rss)/1e6, float64(info.Size())/1e6, float64(rss)/float64(info.Size()))
}

func vmRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	check(err)
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
