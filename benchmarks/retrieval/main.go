// Command retrieval measures the retrieval models on one machine in one
// run, as benchmarks/embeddings does for BGE: raw ONNX Runtime at its best
// length-sorted offline batch (the limit), edgeinfer in-process and over
// HTTP under concurrent callers, and, for the reranker, a transformers.js
// per-request server on the same files and threads. It prints a markdown
// report; nothing here is asserted.
//
//	go run ./benchmarks/retrieval --model @cf/baai/bge-reranker-base --dir <full synthetic dir>
//	go run ./benchmarks/retrieval --model @cf/baai/bge-m3 --dir <dir> --rss
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
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
	"github.com/edgeinfer/edgeinfer/engine/backends"
	"github.com/edgeinfer/edgeinfer/engine/httpapi"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/tokenize/hf"
)

const reranker = "@cf/baai/bge-reranker-base"

// workload is what one model's callers send.
type workload struct {
	// pairs: each request is 1 query × contexts (the reranker); else each
	// request is one text.
	contexts int
	maxLen   int // the model's token limit
}

var workloads = map[string]workload{
	reranker:                        {contexts: 20, maxLen: 512},
	"@cf/baai/bge-m3":               {maxLen: 8192},
	"@cf/qwen/qwen3-embedding-0.6b": {maxLen: 8192},
}

func main() {
	model := flag.String("model", reranker, "catalog ID: "+strings.Join(slices.Sorted(keys(workloads)), ", "))
	dir := flag.String("dir", "", "model directory (default $EDGEINFER_HOME/models/<model>; use the full synthetic preset for honest figures)")
	variant := flag.String("variant", "fp32", "fp32 or int8")
	threads := flag.Int("threads", runtime.NumCPU(), "ONNX Runtime intra-op threads, for every configuration")
	concurrency := flag.Int("concurrency", 0, "concurrent callers (default 16 for the reranker, 64 for the embedders)")
	duration := flag.Duration("duration", 15*time.Second, "measured time per configuration")
	warmup := flag.Duration("warmup", 3*time.Second, "unmeasured warm-up of the raw limit (the engine paths warm up with one call per caller)")
	peer := flag.Bool("peer", true, "run the transformers.js peer for the reranker (needs `npm ci` in benchmarks/retrieval/peer)")
	rss := flag.Bool("rss", false, "only load the model, run it once, and print RSS vs the weight files")
	sample := flag.Int("raw-sample", 512, "items the raw limit runs in whole passes per batch size (fewer for the large models: a pass must end)")
	limitFlag := flag.Float64("limit", 0, "the raw limit in items/s from an earlier run on this machine, instead of measuring it (a whole pass of the full reranker takes ~45 s per batch size on 2 cores)")
	flag.Parse()
	w, ok := workloads[*model]
	if !ok {
		log.Fatalf("--model %s: want one of %v", *model, slices.Sorted(keys(workloads)))
	}
	if *dir == "" {
		*dir = filepath.Join(engine.DefaultHome(), "models", *model)
	}
	if *concurrency == 0 {
		*concurrency = 64
		if w.contexts > 0 {
			*concurrency = 16
		}
	}
	eng := newEngine(*model, *dir, *variant, *threads)
	defer eng.Close()
	if *rss {
		reportRSS(eng, *model, *dir, *variant)
		return
	}
	ctx := context.Background()
	fmt.Printf("# Retrieval benchmark: %s (%s), %d threads, %d callers, %s per run\n\n", *model, *variant, *threads, *concurrency, *duration)
	fmt.Printf("machine: %s, %d CPUs, flags %s; ONNX Runtime %s\n\n", machine.CPUModel(), runtime.NumCPU(), machine.Flags(), ort.ExpectedVersion())

	requests := makeRequests(w, 512)
	unit := "texts"
	if w.contexts > 0 {
		unit = "pairs"
	}
	limit, bestBatch := *limitFlag, 0
	if limit == 0 {
		limit, bestBatch = rawORT(*dir, *variant, *threads, w, requests, *sample, *warmup, *duration)
	}
	// Drained, not ClosedLoop: a rerank request waits behind the other
	// callers' hundreds of pairs for about as long as a window, so a loop
	// that cut calls off at its edges would count a round or two of bursts.
	inproc := loadgen.Drained(ctx, *concurrency, *duration, func(ctx context.Context, worker int) (int, error) {
		r := requests[rand.IntN(len(requests))]
		_, err := eng.Run(ctx, *model, engine.Input{JSON: r.body})
		return r.items, err
	})
	batchSize, padding, err := bench.BatchStats(eng, *model)
	check(err)
	overHTTP := httpRun(ctx, eng, *model, requests, *concurrency, *duration)

	fmt.Printf("| configuration | %s/s | vs limit | p50 | p99 | errors |\n", unit)
	fmt.Println("|---|---|---|---|---|---|")
	if bestBatch > 0 {
		fmt.Printf("| (1) raw ONNX Runtime, best offline batch (%d, length-sorted, whole passes) | %.1f | 1.00 | | | |\n", bestBatch, limit)
	} else {
		fmt.Printf("| (1) raw ONNX Runtime, as given by --limit | %.1f | 1.00 | | | |\n", limit)
	}
	row := func(name string, r loadgen.Result) {
		fmt.Printf("| %s | %.1f | %.2f | %s | %s | %d |\n", name, r.ItemsPerSecond(), r.ItemsPerSecond()/limit,
			r.Percentile(0.5).Round(100*time.Microsecond), r.Percentile(0.99).Round(100*time.Microsecond), r.Errors)
	}
	row(fmt.Sprintf("(2) edgeinfer in-process, %d callers", *concurrency), inproc)
	row(fmt.Sprintf("(3) edgeinfer over HTTP, %d callers", *concurrency), overHTTP)
	if *peer && w.contexts > 0 {
		p, err := runPeer(*dir, *variant, *threads, *concurrency, *duration, requests)
		if err != nil {
			fmt.Printf("| (4) transformers.js peer | failed: %v | | | | |\n", err)
		} else {
			fmt.Printf("| (4) transformers.js, one batch per request, %d concurrent | %.1f | %.2f | %.1fms | %.1fms | |\n",
				*concurrency, p.PairsPerS, p.PairsPerS/limit, p.P50, p.P99)
			fmt.Printf("\n(3) / (4) = %.2fx\n", overHTTP.ItemsPerSecond()/p.PairsPerS)
		}
	}
	fmt.Printf("\nedgeinfer batches under (2): mean size %.1f, mean padding ratio %.3f\n", batchSize, padding)
	for _, r := range []loadgen.Result{inproc, overHTTP} {
		if r.FirstErr != nil {
			fmt.Printf("first error: %v\n", r.FirstErr)
		}
	}
}

func keys[M ~map[K]V, K comparable, V any](m M) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// request is one prepared call: its Workers AI body, its items (pairs or
// texts) and the texts themselves for the raw limit and the peer.
type request struct {
	body     []byte
	items    int
	query    string
	contexts []string
}

// makeRequests builds n reproducible requests: for the reranker 1 query of
// 4–12 words × w.contexts contexts of 8–58 words (10–60 tokens with the
// special tokens), else one text of 6–38 words.
func makeRequests(w workload, n int) []request {
	out := make([]request, n)
	if w.contexts == 0 {
		for i, t := range corpus.Sentences(n, 6, 38, 42) {
			body, _ := json.Marshal(map[string]string{"text": t})
			out[i] = request{body: body, items: 1, contexts: []string{t}}
		}
		return out
	}
	queries := corpus.Sentences(n, 4, 12, 7)
	contexts := corpus.Sentences(n*w.contexts, 8, 58, 42)
	for i := range out {
		cs := contexts[i*w.contexts : (i+1)*w.contexts]
		objs := make([]map[string]string, len(cs))
		for j, c := range cs {
			objs[j] = map[string]string{"text": c}
		}
		body, _ := json.Marshal(map[string]any{"query": queries[i], "contexts": objs})
		out[i] = request{body: body, items: len(cs), query: queries[i], contexts: cs}
	}
	return out
}

// rawORT is the limit: every item of the first requests, tokenized as the
// model's tokenizer.json says (pairs for the reranker), sorted by length
// (the least padding any batcher reaches) and run through the session in
// whole passes at each batch size.
func rawORT(dir, variant string, threads int, w workload, requests []request, sample int, warmup, d time.Duration) (best float64, bestBatch int) {
	tok, err := hf.Load(filepath.Join(dir, "tokenizer.json"))
	check(err)
	var seqs [][]int64
	for _, r := range requests {
		for _, c := range r.contexts {
			var ids []int64
			if w.contexts > 0 {
				ids, _, _, err = tok.EncodePair(r.query, c, w.maxLen)
			} else {
				ids, _, _, err = tok.Encode(c, w.maxLen)
			}
			check(err)
			seqs = append(seqs, ids)
		}
		if len(seqs) >= sample {
			break
		}
	}
	slices.SortFunc(seqs, func(a, b []int64) int { return len(a) - len(b) })
	sess, err := ort.Open(filepath.Join(dir, weightsFile(variant)), ort.Options{IntraOpThreads: threads})
	check(err)
	defer sess.Close()
	pad := tok.PadID()
	pass := func(bs int) {
		for i := 0; i < len(seqs); i += bs {
			runRaw(sess, seqs[i:min(i+bs, len(seqs))], pad)
		}
	}
	for warmed := time.Now(); time.Since(warmed) < warmup; {
		runRaw(sess, seqs[len(seqs)/2:len(seqs)/2+8], pad)
	}
	for _, bs := range []int{1, 4, 8, 16, 32, 64} {
		passes, start := 0, time.Now()
		for passes == 0 || time.Since(start) < d/4 {
			pass(bs)
			passes++
		}
		if rate := float64(passes*len(seqs)) / time.Since(start).Seconds(); rate > best {
			best, bestBatch = rate, bs
		}
	}
	return best, bestBatch
}

// runRaw pads one batch on the right and runs it, binding the inputs the
// file declares; ONNX Runtime allocates the outputs.
func runRaw(sess *ort.Session, batch [][]int64, pad int64) {
	cols := 0
	for _, s := range batch {
		cols = max(cols, len(s))
	}
	n := len(batch) * cols
	data := map[string][]int64{"input_ids": make([]int64, n), "attention_mask": make([]int64, n), "token_type_ids": make([]int64, n)}
	for r, s := range batch {
		row := data["input_ids"][r*cols : (r+1)*cols]
		for c := range row {
			row[c] = pad
		}
		copy(row, s)
		for c := range s {
			data["attention_mask"][r*cols+c] = 1
		}
	}
	shape := onnx.NewShape(int64(len(batch)), int64(cols))
	vals := map[string]onnx.Value{}
	for _, in := range sess.Inputs() {
		t, err := onnx.NewTensor(shape, data[in.Name])
		check(err)
		defer t.Destroy()
		vals[in.Name] = t
	}
	bound, err := sess.BindInputs(vals)
	check(err)
	outs := make([]onnx.Value, len(sess.Outputs()))
	check(sess.Run(bound, outs))
	for _, v := range outs {
		if v != nil {
			v.Destroy()
		}
	}
}

func weightsFile(variant string) string {
	if variant == "int8" {
		return "onnx/model_quantized.onnx"
	}
	return "onnx/model.onnx"
}

func newEngine(model, dir, variant string, threads int) *engine.Engine {
	cat, err := engine.LoadCatalog()
	check(err)
	cfg := engine.DefaultConfig()
	cfg.Models[model] = engine.ModelConfig{Dir: dir, Variant: variant, IntraOpThreads: threads}
	eng, err := engine.New(cat, cfg, backends.All(cfg), nil)
	check(err)
	w := workloads[model]
	_, err = eng.Run(context.Background(), model, engine.Input{JSON: makeRequests(w, 1)[0].body})
	check(err)
	return eng
}

func httpRun(ctx context.Context, eng *engine.Engine, model string, requests []request, concurrency int, d time.Duration) loadgen.Result {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	srv := &http.Server{Handler: httpapi.New(eng, httpapi.Options{}).Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/client/v4/accounts/bench/ai/run/" + model
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	return loadgen.Drained(ctx, concurrency, d, func(ctx context.Context, _ int) (int, error) {
		r := requests[rand.IntN(len(requests))]
		if _, err := loadgen.Post(ctx, client, url, "application/json", r.body); err != nil {
			return 0, err
		}
		return r.items, nil
	})
}

type peerResult struct {
	PairsPerS float64 `json:"pairs_per_s"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
}

func runPeer(dir, variant string, threads, concurrency int, d time.Duration, requests []request) (peerResult, error) {
	f, err := os.CreateTemp("", "rerank-*.json")
	if err != nil {
		return peerResult{}, err
	}
	defer os.Remove(f.Name())
	type peerRequest struct {
		Query    string   `json:"query"`
		Contexts []string `json:"contexts"`
	}
	reqs := make([]peerRequest, len(requests))
	for i, r := range requests {
		reqs[i] = peerRequest{r.query, r.contexts}
	}
	check(json.NewEncoder(f).Encode(reqs))
	f.Close()
	dtype := "fp32"
	if variant == "int8" {
		dtype = "q8"
	}
	cmd := exec.Command("node", "run.mjs", dir, dtype, fmt.Sprint(threads), fmt.Sprint(concurrency), fmt.Sprint(int(d.Seconds())), f.Name())
	cmd.Dir = filepath.Join("benchmarks", "retrieval", "peer")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return peerResult{}, err
	}
	var p peerResult
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return p, json.Unmarshal([]byte(lines[len(lines)-1]), &p)
}

// reportRSS prints the resident memory with the model loaded and run once
// against the size of its weight files (the graph and its external data).
func reportRSS(eng *engine.Engine, model, dir, variant string) {
	var weights int64
	file := weightsFile(variant)
	for _, name := range []string{file, file + "_data"} {
		if info, err := os.Stat(filepath.Join(dir, name)); err == nil {
			weights += info.Size()
		}
	}
	rss := vmRSS()
	fmt.Printf("%s (%s), flags %s: RSS with the model loaded %.1f MB; weight files %.1f MB; ratio %.2f\n",
		model, variant, machine.Flags(), float64(rss)/1e6, float64(weights)/1e6, float64(rss)/float64(weights))
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
