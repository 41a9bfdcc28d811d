// Command resnet measures image classification end to end on one machine in
// one run, on a corpus of generated photo-like JPEGs from 640×480 to
// 4032×3024:
//
//  1. the preprocessing cost per image, by size (decode, then resize, crop
//     and normalize), on one core, in wall and thread CPU time;
//  2. raw ONNX Runtime on already-preprocessed tensors at each batch size,
//     as one stream of --threads threads and as one single-threaded stream
//     per core: the best of them is the limit;
//  3. edgeinfer over HTTP, bytes in → top 5 out, with concurrent clients,
//     and the process's CPU time per image split into preprocessing and
//     the rest (inference, HTTP, the load generator);
//  4. transformers.js's image-classification pipeline on the same files,
//     model and threads (benchmarks/resnet/peer.mjs).
//
// It prints a markdown report; nothing is asserted. Use the full synthetic
// model (`edgeinfer models synth --preset full --only @cf/microsoft/resnet-50`)
// for honest figures:
//
//	go run ./benchmarks/resnet --dir ~/.edgeinfer/models/@cf/microsoft/resnet-50
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/benchmarks/bench"
	"github.com/edgeinfer/edgeinfer/benchmarks/loadgen"
	"github.com/edgeinfer/edgeinfer/benchmarks/machine"
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/httpapi"
	"github.com/edgeinfer/edgeinfer/imageprep"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/resnet"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

const model = "@cf/microsoft/resnet-50"

func main() {
	dir := flag.String("dir", filepath.Join(engine.DefaultHome(), "models", model), "model directory (the full synthetic preset for honest figures)")
	corpusDir := flag.String("corpus", filepath.Join(os.TempDir(), "edgeinfer-resnet-corpus"), "where the generated JPEGs are kept between runs")
	perSize := flag.Int("per-size", 6, "images per size in the corpus")
	threads := flag.Int("threads", runtime.NumCPU(), "ONNX Runtime intra-op threads of the raw single-stream runs and of the peer")
	intraOp := flag.Int("intra-op-threads", 0, "edgeinfer's intra_op_threads (0: the backend's default, one thread per batch and a batch instance per core)")
	clients := flag.Int("clients", 32, "concurrent HTTP clients (and the peer's calls in flight)")
	maxBatch := flag.Int("max-batch", 0, "edgeinfer's max_batch_size (0: measured at load, see `edgeinfer calibrate`)")
	queueDelay := flag.Duration("max-queue-delay", 0, "edgeinfer's max_queue_delay")
	duration := flag.Duration("duration", 20*time.Second, "measured time per configuration (the limit and edgeinfer over HTTP: in all, split into --rounds)")
	rounds := flag.Int("rounds", 3, "interleaved rounds of the limit and edgeinfer over HTTP")
	warmup := flag.Duration("warmup", 3*time.Second, "unmeasured warm-up per configuration")
	peer := flag.Bool("peer", true, "run the transformers.js peer (needs `npm ci --ignore-scripts` in compat/imageprep-parity)")
	dctScaling := flag.Bool("jpeg-dct-scaling", false, "decode JPEGs with DCT scaling (edgeinfer's jpeg_dct_scaling, and the preprocessing table)")
	cpuProfile := flag.String("cpuprofile", "", "write a Go CPU profile of the first round's HTTP run to this file")
	synthesize := flag.Bool("synth", false, "generate the full synthetic model into --dir first if it has no model file")
	flag.Parse()

	if *synthesize {
		check(synthesizeFull(*dir))
	}

	corpus, err := loadCorpus(*corpusDir, *perSize)
	check(err)
	raw, err := os.ReadFile(filepath.Join(*dir, "preprocessor_config.json"))
	check(err)
	proc, err := imageprep.ParseHFConfig(raw)
	check(err)
	proc.DCTScaling = *dctScaling
	check(ort.Init())

	fmt.Printf("# ResNet-50 benchmark: %s, %d threads, %d clients, %s per run\n\n", *dir, *threads, *clients, *duration)
	fmt.Printf("machine: %s, %d CPUs (%s; GOMAXPROCS %d); ONNX Runtime %s; corpus: %d JPEGs (q90), %d per size\n\n",
		machine.CPUModel(), runtime.NumCPU(), machine.Flags(), runtime.GOMAXPROCS(0), ort.Version(), len(corpus), *perSize)

	fmt.Println("## Preprocessing cost per image (one core, mean)")
	fmt.Println()
	tensors, prepCPU := preprocessCost(corpus, proc)

	fmt.Println("## Throughput")
	fmt.Println()
	perBatch := rawORT(*dir, *threads, 1, []int{1, 2, 4, 8, 16}, tensors, *warmup, *duration)
	if cpus := runtime.NumCPU(); cpus > 1 {
		perBatch = append(perBatch, rawORT(*dir, 1, cpus, []int{4, 8, 16}, tensors, *warmup, *duration)...)
	}
	var best batchRate
	for _, b := range perBatch {
		if b.rate > best.rate {
			best = b
		}
	}
	eng := newEngine(engine.ModelConfig{Dir: *dir, IntraOpThreads: *intraOp, MaxBatchSize: *maxBatch,
		MaxQueueDelay: engine.Duration(*queueDelay), JPEGDCTScaling: *dctScaling})
	defer eng.Close()
	check(eng.Load(context.Background(), model)) // calibration, if any, before the clock starts
	fmt.Printf("edgeinfer's batch sizes: %s\n\n", calibrate.Summary(eng.Config().Paths().Home, model, "cpu"))

	// The raw limit at its best configuration and edgeinfer over HTTP
	// alternate in rounds, so their ratio compares the same stretch of
	// this machine's time; the HTTP rounds drain their calls.
	sess, err := ort.Open(filepath.Join(*dir, "onnx/model.onnx"), ort.Options{IntraOpThreads: best.threads})
	check(err)
	defer sess.Close()
	hs := serveHTTP(eng, corpus, *clients)
	defer hs.close()
	loadgen.Drained(context.Background(), *clients, *warmup, hs.call)
	per := (*duration / time.Duration(max(*rounds, 1))).Round(time.Millisecond)
	var httpRounds []loadgen.Result
	var httpCPU time.Duration
	phases := []func() float64{
		func() float64 { return rawRate(sess, best.batch, best.streams, tensors, per) },
		func() float64 {
			if *cpuProfile != "" && len(httpRounds) == 0 {
				f, err := os.Create(*cpuProfile)
				check(err)
				check(pprof.StartCPUProfile(f))
			}
			cpu0 := processCPU()
			r := loadgen.Drained(context.Background(), *clients, per, hs.call)
			httpCPU += processCPU() - cpu0
			if *cpuProfile != "" && len(httpRounds) == 0 {
				pprof.StopCPUProfile()
			}
			httpRounds = append(httpRounds, r)
			return r.ItemsPerSecond()
		},
	}
	var peers []peerResult
	var peerErr error
	if *peer {
		files := paths(*corpusDir, corpus)
		phases = append(phases, func() float64 {
			if peerErr != nil {
				return 0
			}
			var p peerResult
			if p, peerErr = runPeer(*dir, *threads, *clients, per, files); peerErr != nil {
				return 0
			}
			peers = append(peers, p)
			return p.ImagesPerS
		})
	}
	rates := bench.Interleave(*rounds, phases...)
	overHTTP := loadgen.Merge(httpRounds...)
	httpCPU /= time.Duration(max(1, overHTTP.Items))
	limit := bench.Mean(rates[0])
	ratio := bench.RatioOf(rates[1], rates[0])

	fmt.Println("| configuration | images/s | vs limit | p50 | p99 | errors |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, b := range perBatch {
		fmt.Printf("| sweep: raw ONNX Runtime, preprocessed tensors, %s | %.1f | | | | |\n", b, b.rate)
	}
	fmt.Printf("| **limit**: raw ONNX Runtime, %s (the sweep's best), in the rounds | %.1f | 1.00 | | | |\n", best, limit)
	fmt.Printf("| edgeinfer over HTTP, JPEG bytes → top 5, %d clients, max_batch_size %d, intra_op_threads %d | %.1f | %s | %s | %s | %d |\n",
		*clients, *maxBatch, *intraOp, overHTTP.ItemsPerSecond(), ratio,
		overHTTP.Percentile(0.5).Round(time.Millisecond), overHTTP.Percentile(0.99).Round(time.Millisecond), overHTTP.Errors)
	if overHTTP.FirstErr != nil {
		fmt.Printf("\nfirst error: %v\n", overHTTP.FirstErr)
	}
	var p peerResult
	if *peer && peerErr != nil {
		fmt.Printf("| transformers.js peer | failed: %v | | | | |\n", peerErr)
	} else if *peer {
		for _, r := range peers {
			p.ImagesPerS += r.ImagesPerS / float64(len(peers))
			p.BatchedPerS += r.BatchedPerS / float64(len(peers))
			p.P50 += r.P50 / float64(len(peers))
			p.P99 = max(p.P99, r.P99)
		}
		fmt.Printf("| transformers.js pipeline, one image per call, %d concurrent, in the rounds (p50: the rounds' mean; p99: their highest) | %.1f | %s | %.0fms | %.0fms | |\n",
			*clients, p.ImagesPerS, bench.RatioOf(rates[2], rates[0]), p.P50, p.P99)
		fmt.Printf("| transformers.js pipeline, batched calls of %d, after each round's per-call run | %.1f | %.2f | | | |\n", *clients, p.BatchedPerS, p.BatchedPerS/limit)
	}
	fmt.Println()
	fmt.Printf("The limit, edgeinfer over HTTP and the transformers.js peer ran in %d interleaved rounds of %s each, in that order; vs limit is pooled over the rounds, with the range of the rounds' own ratios:\n\n", max(*rounds, 1), per)
	fmt.Println("| round | raw limit | edgeinfer over HTTP | HTTP / limit | transformers.js per call | HTTP / transformers.js |")
	fmt.Println("|---|---|---|---|---|---|")
	for i := range rates[0] {
		peerRate, vsPeer := "", ""
		if len(rates) > 2 && rates[2][i] > 0 {
			peerRate, vsPeer = fmt.Sprintf("%.1f", rates[2][i]), fmt.Sprintf("%.2fx", rates[1][i]/rates[2][i])
		}
		fmt.Printf("| %d | %.1f | %.1f | %.2f | %s | %s |\n", i+1, rates[0][i], rates[1][i], rates[1][i]/rates[0][i], peerRate, vsPeer)
	}
	fmt.Println()
	fmt.Printf("- edgeinfer over HTTP / raw ORT at its best (%s): **%s** (target ≥ 0.85)\n", best, ratio)
	if p.ImagesPerS > 0 {
		fmt.Printf("- edgeinfer over HTTP / transformers.js per-call pipeline: **%.2fx** (target ≥ 1.5x; pooled over the rounds, each round %s); / its batched calls: %.2fx\n",
			bench.RatioOf(rates[1], rates[2]).Pooled, ratioRange(bench.RatioOf(rates[1], rates[2])), overHTTP.ItemsPerSecond()/p.BatchedPerS)
	}
	fmt.Printf("- batches under HTTP load: %s\n", batchSizes(eng))
	fmt.Printf("- CPU per image over HTTP (process, the rounds): %.1f ms, of which preprocessing %.1f ms (%.0f%%, the corpus's mean on one core) and the rest %.1f ms (inference, HTTP, the in-process load generator)\n",
		ms(httpCPU), ms(prepCPU), 100*float64(prepCPU)/float64(httpCPU), ms(httpCPU-prepCPU))
}

// preprocessCost decodes and prepares every image a few times on one
// locked OS thread, prints the mean wall and CPU time by size, and returns
// the tensors and the mean CPU time per image over the corpus (the mix the
// HTTP clients send).
func preprocessCost(corpus []photo, proc *imageprep.Processor) ([][]float32, time.Duration) {
	type cost struct {
		decode, prepare, cpu time.Duration
		n                    int
	}
	bySize := map[string]*cost{}
	tensors := make([][]float32, len(corpus))
	var allCPU time.Duration
	const reps = 3
	onOneThread(func() {
		for i, c := range corpus {
			key := fmt.Sprintf("%d×%d", c.w, c.h)
			if bySize[key] == nil {
				bySize[key] = &cost{}
			}
			tensors[i] = make([]float32, proc.Len())
			for range reps {
				cpu0, start := threadCPU(), time.Now()
				img, err := proc.Decode(c.data, imageprep.Limits{})
				check(err)
				mid := time.Now()
				check(proc.Prepare(img, tensors[i]))
				cpu := threadCPU() - cpu0
				bySize[key].decode += mid.Sub(start)
				bySize[key].prepare += time.Since(mid)
				bySize[key].cpu += cpu
				bySize[key].n++
				allCPU += cpu
			}
		}
	})
	fmt.Println("| size | megapixels | JPEG decode → RGB | resize + crop + normalize | total | CPU time |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, s := range sizes {
		key := fmt.Sprintf("%d×%d", s[0], s[1])
		c := bySize[key]
		n := time.Duration(c.n)
		d, p := c.decode/n, c.prepare/n
		fmt.Printf("| %s | %.2f | %.1f ms | %.1f ms | %.1f ms | %.1f ms |\n", key, float64(s[0]*s[1])/1e6, ms(d), ms(p), ms(d+p), ms(c.cpu/n))
	}
	fmt.Println()
	return tensors, allCPU / time.Duration(reps*len(corpus))
}

func ratioRange(r bench.Ratio) string { return fmt.Sprintf("%.2fx–%.2fx", r.Min, r.Max) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type batchRate struct {
	batch, threads, streams int
	rate                    float64
}

func (b batchRate) String() string {
	return fmt.Sprintf("batch %d, %d thread(s) × %d stream(s)", b.batch, b.threads, b.streams)
}

// rawORT measures the limit: the preprocessed tensors, stacked in batches
// of each size, straight through one session with nothing else running,
// from streams goroutines at once (ONNX Runtime's Run is concurrent-safe).
func rawORT(dir string, threads, streams int, batches []int, tensors [][]float32, warmup, d time.Duration) []batchRate {
	sess, err := ort.Open(filepath.Join(dir, "onnx/model.onnx"), ort.Options{IntraOpThreads: threads})
	check(err)
	defer sess.Close()
	var all []batchRate
	for _, bs := range batches {
		rawRate(sess, bs, streams, tensors, warmup/2)
		all = append(all, batchRate{batch: bs, threads: threads, streams: streams, rate: rawRate(sess, bs, streams, tensors, d/2)})
	}
	return all
}

// rawRate runs batches of bs from streams goroutines at once for d and
// returns the images per second.
func rawRate(sess *ort.Session, bs, streams int, tensors [][]float32, d time.Duration) float64 {
	counts := make(chan int, streams)
	start := time.Now()
	for s := range streams {
		go func() { counts <- rawStream(sess, bs, s, tensors, start, d) }()
	}
	n := 0
	for range streams {
		n += <-counts
	}
	return float64(n) / time.Since(start).Seconds()
}

// rawStream runs batches of bs until limit has passed since start and
// returns how many images it ran.
func rawStream(sess *ort.Session, bs, stream int, tensors [][]float32, start time.Time, limit time.Duration) int {
	size := len(tensors[0])
	in, out := make([]float32, bs*size), make([]float32, bs*1000)
	inT, err := onnx.NewTensor(onnx.NewShape(int64(bs), 3, 224, 224), in)
	check(err)
	defer inT.Destroy()
	outT, err := onnx.NewTensor(onnx.NewShape(int64(bs), 1000), out)
	check(err)
	defer outT.Destroy()
	n := 0
	for i := stream * 7; time.Since(start) < limit; i += bs {
		for j := range bs {
			copy(in[j*size:], tensors[(i+j)%len(tensors)])
		}
		check(sess.Run([]onnx.Value{inT}, []onnx.Value{outT}))
		n += bs
	}
	return n
}

// synthesizeFull writes the full-size synthetic ResNet-50 into dir unless a
// model is already there. dir must end in the model ID, as synth lays out
// models under a root by ID.
func synthesizeFull(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, synth.ResNetModelFile)); err == nil {
		return nil
	}
	root, ok := strings.CutSuffix(filepath.ToSlash(filepath.Clean(dir)), "/"+model)
	if !ok {
		return fmt.Errorf("--synth needs --dir to end in %s", model)
	}
	return synth.Generate(context.Background(), synth.Options{Preset: synth.Full, OutDir: filepath.FromSlash(root)}, []string{model}, os.Stderr)
}

func newEngine(mc engine.ModelConfig) *engine.Engine {
	cat, err := engine.LoadCatalog()
	check(err)
	cfg := engine.DefaultConfig()
	cfg.Models[model] = mc
	eng, err := engine.New(cat, cfg, map[string]engine.Backend{resnet.Kind: resnet.Backend{}}, nil)
	check(err)
	return eng
}

// httpServer serves the engine on a loopback port; call posts one JPEG of
// the corpus as a raw body and checks the top 5 that comes back.
type httpServer struct {
	srv    *http.Server
	url    string
	client *http.Client
	corpus []photo
	next   []int
}

func serveHTTP(eng *engine.Engine, corpus []photo, clients int) *httpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	hs := &httpServer{
		srv:    &http.Server{Handler: httpapi.New(eng, httpapi.Options{}).Handler()},
		url:    "http://" + ln.Addr().String() + "/client/v4/accounts/bench/ai/run/" + model,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}},
		corpus: corpus,
		next:   make([]int, clients),
	}
	for w := range hs.next {
		hs.next[w] = w * 7 // each client starts at a different image
	}
	go hs.srv.Serve(ln)
	return hs
}

func (hs *httpServer) close() { hs.srv.Close() }

func (hs *httpServer) call(ctx context.Context, w int) (int, error) {
	img := hs.corpus[hs.next[w]%len(hs.corpus)]
	hs.next[w]++
	body, err := loadgen.Post(ctx, hs.client, hs.url, "image/jpeg", img.data)
	if err != nil {
		return 0, err
	}
	var out struct {
		Result []engine.Classification `json:"result"`
	}
	if err := json.Unmarshal(body, &out); err != nil || len(out.Result) != 5 {
		return 0, fmt.Errorf("unexpected reply %s", body)
	}
	return 1, nil
}

// batchSizes summarises the engine's batch-size histogram.
func batchSizes(eng *engine.Engine) string {
	families, err := (&bench.EngineTarget{Engine: eng}).Metrics(context.Background())
	check(err)
	h := bench.Histogram(families, "edgeinfer_batch_size", model)
	if h.GetSampleCount() == 0 {
		return "none recorded"
	}
	var parts []string
	prev := uint64(0)
	for _, b := range h.GetBucket() {
		if n := b.GetCumulativeCount() - prev; n > 0 {
			parts = append(parts, fmt.Sprintf("≤%g: %d", b.GetUpperBound(), n))
		}
		prev = b.GetCumulativeCount()
	}
	return fmt.Sprintf("%d batches, mean %.2f images (%s)", h.GetSampleCount(), h.GetSampleSum()/float64(h.GetSampleCount()), strings.Join(parts, ", "))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
