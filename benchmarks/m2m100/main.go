// Command m2m100 measures translation throughput in generated tokens per
// second on one machine in one run: greedy search at 1, 8 and 16 and
// 5-beam search at 1 and 8 concurrent requests, the key/value cache against
// recomputing every step, and transformers.js's translation pipeline on the
// same model files (--variant) and threads. --compare-variants N compares
// the int8 files with the fp32 ones instead. It prints a markdown report;
// nothing here is asserted.
//
//	go run ./benchmarks/m2m100 --dir /path/to/full/@cf/meta/m2m100-1.2b
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/benchmarks/bench"
	"github.com/edgeinfer/edgeinfer/benchmarks/corpus"
	"github.com/edgeinfer/edgeinfer/benchmarks/machine"
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/m2m100"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

const model = "@cf/meta/m2m100-1.2b"

// targets rotate over the requests, so batches mix target languages.
var targets = []string{"fr", "de", "es", "ru", "zh", "ja"}

func main() {
	dir := flag.String("dir", filepath.Join(engine.DefaultHome(), "models", model), "model directory (the full synthetic preset for honest figures)")
	threads := flag.Int("threads", runtime.NumCPU(), "ONNX Runtime intra-op threads, for every configuration")
	tokens := flag.Int("tokens", 64, "tokens generated per request at most (max_length = tokens + 1, the decoder start)")
	duration := flag.Duration("duration", 30*time.Second, "time per configuration during which requests start; the last ones finish after it")
	peer := flag.Bool("peer", true, "run the transformers.js peer (needs `npm ci --ignore-scripts` in benchmarks/m2m100/peer)")
	flag.StringVar(&variant, "variant", "", "weight variant for edgeinfer and the peer: fp32 or int8 (default: the catalog's CPU default)")
	cpuProfile := flag.String("cpuprofile", "", "write a Go CPU profile of the first one-caller greedy round (model load included) to this file")
	rounds := flag.Int("rounds", 3, "interleaved rounds of the one-caller greedy rows of edgeinfer and transformers.js (--duration in all)")
	variants := flag.Int("compare-variants", 0, "instead of the benchmark, compare the int8 files with the fp32 ones on this many sentences: first-step logits, greedy outputs, one caller's tokens/s")
	flag.Parse()

	texts := corpus.Sentences(512, 8, 16, 7)
	if *variants > 0 {
		compareVariants(*dir, *threads, *tokens, *variants, texts)
		return
	}
	fmt.Printf("# Translation benchmark: %s, %d threads, up to %d generated tokens per request, %s per run\n\n",
		filepath.Base(*dir), *threads, *tokens, *duration)
	fmt.Printf("machine: %s, %d CPUs (%s); ONNX Runtime %s; variant %s\n\n", machine.CPUModel(), runtime.NumCPU(), machine.Flags(), ort.ExpectedVersion(), servedVariant())
	fmt.Println("| configuration | generated tokens/s | requests | tokens/request | rows per decoder step | p50 | p99 |")
	fmt.Println("|---|---|---|---|---|---|---|")

	var pv *peerView
	var peerErr error
	if *peer {
		if pv, peerErr = newPeerView(*dir, texts); peerErr == nil {
			defer pv.close()
		}
	}
	// One caller, greedy, edgeinfer and transformers.js alternate in rounds
	// so their ratio (issue #21's closest target) compares the same
	// stretch of this machine's time.
	per := (*duration / time.Duration(max(*rounds, 1))).Round(time.Millisecond)
	var greedyRounds []result
	var peerRounds []peerResult
	phases := []func() float64{func() float64 {
		if *cpuProfile != "" && len(greedyRounds) == 0 {
			f, err := os.Create(*cpuProfile)
			check(err)
			check(pprof.StartCPUProfile(f))
			defer pprof.StopCPUProfile()
		}
		r := measure(*dir, *threads, *tokens, 1, 1, false, texts, per)
		greedyRounds = append(greedyRounds, r)
		return r.tokensPerS()
	}}
	if pv != nil {
		phases = append(phases, func() float64 {
			if peerErr != nil {
				return 0
			}
			var p peerResult
			if p, peerErr = pv.run(*threads, 1, *tokens, per); peerErr != nil {
				return 0
			}
			peerRounds = append(peerRounds, p)
			return p.TokensPerS
		})
	}
	rates := bench.Interleave(*rounds, phases...)

	results := map[string]result{"1/1": mergeResults(greedyRounds)}
	for _, beams := range []int{1, 5} {
		callers := []int{1, 8, 16} // 16: issue #21's many-caller target against transformers.js
		if beams > 1 {
			callers = []int{1, 8}
		}
		for _, conc := range callers {
			name := fmt.Sprintf("edgeinfer, %s, %d concurrent", searchName(beams), conc)
			key := fmt.Sprintf("%d/%d", beams, conc)
			if key == "1/1" {
				results[key].row(name + fmt.Sprintf(", in %d rounds with the peer's", len(greedyRounds)))
				continue
			}
			r := measure(*dir, *threads, *tokens, beams, conc, false, texts, *duration)
			results[key] = r
			r.row(name)
		}
	}
	// Recomputation is slow: one request's worth of time is enough.
	noCache := measure(*dir, *threads, *tokens, 1, 1, true, texts, time.Second)
	noCache.row("edgeinfer, greedy, 1 concurrent, no key/value cache (recompute every step)")

	peers := map[int]peerResult{}
	if *peer {
		if len(peerRounds) > 0 {
			peers[1] = mergePeers(peerRounds)
		}
		for _, conc := range []int{8, 16, -8} {
			if peerErr != nil {
				break
			}
			var p peerResult
			if p, peerErr = pv.run(*threads, conc, *tokens, *duration); peerErr == nil {
				peers[conc] = p
			}
		}
		if peerErr != nil {
			fmt.Printf("| transformers.js peer | failed: %v | | | | | |\n", peerErr)
		}
		for _, conc := range []int{1, 8, 16} {
			if p, ok := peers[conc]; ok {
				fmt.Printf("| transformers.js translation pipeline, greedy, %d concurrent | %.1f | %d | %.1f | | %.0fms | %.0fms |\n",
					conc, p.TokensPerS, p.Requests, p.TokensPerRequest, p.P50, p.P99)
			}
		}
		if p, ok := peers[-8]; ok {
			fmt.Printf("| transformers.js, one batched call of 8 texts, greedy | %.1f | %d | %.1f | | | |\n", p.TokensPerS, p.Requests, p.TokensPerRequest)
		}
	}
	if len(rates) > 1 && len(peerRounds) == len(greedyRounds) {
		fmt.Printf("\nGreedy with one caller, edgeinfer and transformers.js in %d interleaved rounds of %s each (tokens/s): ", len(greedyRounds), per)
		for i := range rates[0] {
			fmt.Printf("round %d %.1f vs %.1f (%.2fx); ", i+1, rates[0][i], rates[1][i], rates[0][i]/rates[1][i])
		}
		fmt.Println("the 1-concurrent rows above pool them.")
	}

	fmt.Println("\n## Against the targets")
	greedy1, greedy8, beam1, beam8 := results["1/1"], results["1/8"], results["5/1"], results["5/8"]
	fmt.Printf("- key/value cache vs recomputation, greedy, %d tokens: %.1fx (target ≥ 3x)\n", *tokens, greedy1.tokensPerS()/noCache.tokensPerS())
	fmt.Printf("- 8 concurrent vs 1, greedy: %.2fx; 5 beams: %.2fx (target ≥ 2.5x)\n",
		greedy8.tokensPerS()/greedy1.tokensPerS(), beam8.tokensPerS()/beam1.tokensPerS())
	for _, c := range []struct {
		conc   int
		target string
	}{{1, "≥ 1.5x"}, {8, "≥ 1.5x"}, {16, "≥ 3x with int8, issue #21"}} {
		if p, ok := peers[c.conc]; ok && p.TokensPerS > 0 {
			fmt.Printf("- vs transformers.js, greedy, %d concurrent: %.2fx (target %s)\n", c.conc, results[fmt.Sprintf("1/%d", c.conc)].tokensPerS()/p.TokensPerS, c.target)
		}
	}
	fmt.Println("\ntransformers.js 4.3.2's generate keeps only the best beam of its beam sampler each step, so it has no beam search to compare against.")
	for _, r := range append(slices.Collect(maps.Values(results)), noCache) {
		if r.err != nil {
			fmt.Printf("\nfirst error: %v\n", r.err)
			break
		}
	}
}

// variant is --variant: the weight variant every configuration loads; empty
// is the catalog's default for the CPU.
var variant string

// servedVariant is the variant edgeinfer loads on the CPU.
func servedVariant() string {
	if variant != "" {
		return variant
	}
	cat, err := engine.LoadCatalog()
	check(err)
	entry, _ := cat.Lookup(model)
	return engine.ModelSpec{Entry: entry}.Variant()
}

func searchName(beams int) string {
	if beams == 1 {
		return "greedy"
	}
	return fmt.Sprintf("%d beams", beams)
}

// result is one configuration's run.
type result struct {
	tokens, requests int
	elapsed          time.Duration
	latencies        []time.Duration
	rowsPerStep      float64
	err              error
}

// mergeResults sums rounds of one configuration measured one after another.
func mergeResults(rounds []result) result {
	var m result
	for _, r := range rounds {
		m.tokens += r.tokens
		m.requests += r.requests
		m.elapsed += r.elapsed
		m.latencies = append(m.latencies, r.latencies...)
		m.rowsPerStep += r.rowsPerStep / float64(len(rounds))
		if m.err == nil {
			m.err = r.err
		}
	}
	return m
}

// mergePeers pools the peer's rounds: rates and per-request tokens by
// their requests, p50 as the rounds' mean and p99 as their highest.
func mergePeers(rounds []peerResult) peerResult {
	var m peerResult
	var tokens float64
	for _, r := range rounds {
		m.TokensPerS += r.TokensPerS / float64(len(rounds))
		m.Requests += r.Requests
		tokens += r.TokensPerRequest * float64(r.Requests)
		m.P50 += r.P50 / float64(len(rounds))
		m.P99 = max(m.P99, r.P99)
	}
	m.TokensPerRequest = tokens / float64(max(m.Requests, 1))
	return m
}

func (r result) tokensPerS() float64 { return float64(r.tokens) / r.elapsed.Seconds() }

func (r result) percentile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func (r result) row(name string) {
	perRequest := 0.0
	if r.requests > 0 {
		perRequest = float64(r.tokens) / float64(r.requests)
	}
	fmt.Printf("| %s | %.1f | %d | %.1f | %.1f | %s | %s |\n", name, r.tokensPerS(), r.requests, perRequest, r.rowsPerStep,
		r.percentile(0.5).Round(time.Millisecond), r.percentile(0.99).Round(time.Millisecond))
}

// measure loads the model with the given search and runs conc callers back
// to back. Callers start requests until d has passed and the run ends when
// the last one finishes, so no generation is cut off and counted half:
// unlike an embedding, one request can take seconds.
func measure(dir string, threads, tokens, beams, conc int, recompute bool, texts []string, d time.Duration) result {
	cat, err := engine.LoadCatalog()
	check(err)
	entry, _ := cat.Lookup(model)
	spec := engine.ModelSpec{Entry: entry, Paths: home.Resolve(engine.DefaultHome(), os.Getenv),
		Config: engine.ModelConfig{Dir: dir, Variant: variant, IntraOpThreads: threads, NumBeams: beams, MaxLength: tokens + 1}}
	if recompute {
		// One caller needs no batch sizes, and the cache-less decoder's
		// files would replace the served model's calibration cache, which
		// the next run would then measure again.
		off := false
		spec.Config.Calibrate = &off
	}
	loaded, err := m2m100.Backend{Recompute: recompute}.Load(context.Background(), spec)
	check(err)
	m := loaded.(*m2m100.Model)
	defer m.Close()
	translate := func(i int) (int, error) {
		out, err := m.TranslateTokens(context.Background(), &engine.TranslationInput{
			Text: texts[i%len(texts)], SourceLang: "en", TargetLang: targets[i%len(targets)]})
		if err != nil {
			return 0, err
		}
		return out.Generated, nil
	}
	// Warm-up: one request per caller, not counted.
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() { translate(w) })
	}
	wg.Wait()
	stats := m.Stats()
	rows0, steps0 := stats.DecoderRows.Load(), stats.Steps.Load()

	var mu sync.Mutex
	var r result
	start := time.Now()
	deadline := start.Add(d)
	for w := range conc {
		wg.Go(func() {
			for i := w * 7919; time.Now().Before(deadline); i++ {
				began := time.Now()
				n, err := translate(i)
				mu.Lock()
				if err != nil && r.err == nil {
					r.err = err
				}
				r.tokens += n
				r.requests++
				r.latencies = append(r.latencies, time.Since(began))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	if steps := stats.Steps.Load() - steps0; steps > 0 {
		r.rowsPerStep = float64(stats.DecoderRows.Load()-rows0) / float64(steps)
	}
	return r
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
