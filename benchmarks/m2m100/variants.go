package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/edgeinfer/edgeinfer/benchmarks/machine"
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/m2m100"
)

// compareVariants loads the fp32 and int8 files of the model in dir, both
// greedy, and for the first n sentences compares the first decoder step's
// logits (cosine) and the greedy outputs, and times each variant's
// translations one at a time (one caller, requests back to back). It prints
// the figures issue #21 §3 sets targets for.
func compareVariants(dir string, threads, tokens, n int, texts []string) {
	load := func(variant string) *m2m100.Model {
		cat, err := engine.LoadCatalog()
		check(err)
		entry, _ := cat.Lookup(model)
		spec := engine.ModelSpec{Entry: entry, Paths: home.Resolve(engine.DefaultHome(), os.Getenv),
			Config: engine.ModelConfig{Dir: dir, Variant: variant, IntraOpThreads: threads, NumBeams: 1, MaxLength: tokens + 1}}
		loaded, err := m2m100.Backend{}.Load(context.Background(), spec)
		check(err)
		return loaded.(*m2m100.Model)
	}
	fp32, int8 := load("fp32"), load("int8")
	defer fp32.Close()
	defer int8.Close()

	type side struct {
		tokens  int
		elapsed time.Duration
	}
	var f, q side
	translate := func(m *m2m100.Model, s *side, in *engine.TranslationInput) []int64 {
		start := time.Now()
		out, err := m.TranslateTokens(context.Background(), in)
		check(err)
		s.elapsed += time.Since(start)
		s.tokens += out.Generated
		return out.Tokens
	}
	var cosines []float64
	identical := 0
	for i := range n {
		in := &engine.TranslationInput{Text: texts[i%len(texts)], SourceLang: "en", TargetLang: targets[i%len(targets)]}
		a, err := fp32.FirstStepLogits(in)
		check(err)
		b, err := int8.FirstStepLogits(in)
		check(err)
		cosines = append(cosines, cosine(a, b))
		// Alternate which variant goes first, so neither always runs on a
		// warmer cache.
		var fa, qa []int64
		if i%2 == 0 {
			fa, qa = translate(fp32, &f, in), translate(int8, &q, in)
		} else {
			qa, fa = translate(int8, &q, in), translate(fp32, &f, in)
		}
		if slices.Equal(fa, qa) {
			identical++
		}
	}
	slices.Sort(cosines)
	mean := 0.0
	for _, c := range cosines {
		mean += c / float64(len(cosines))
	}
	fTPS, qTPS := float64(f.tokens)/f.elapsed.Seconds(), float64(q.tokens)/q.elapsed.Seconds()
	fmt.Printf("# int8 against fp32: %s, %d threads, greedy, up to %d tokens, %d sentences\n\n", dir, threads, tokens, n)
	fmt.Printf("CPU flags: %s\n\n", machine.Flags())
	fmt.Println("| | fp32 | int8 |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| generated tokens/s, one caller | %.2f | %.2f |\n", fTPS, qTPS)
	fmt.Printf("| tokens generated | %d | %d |\n\n", f.tokens, q.tokens)
	fmt.Printf("- first-step logits cosine: min %.5f, mean %.5f, %d of %d ≥ 0.99 (target: all)\n",
		cosines[0], mean, countAtLeast(cosines, 0.99), len(cosines))
	fmt.Printf("- greedy output identical: %d of %d = %.0f%% (target ≥ 90%%)\n", identical, n, 100*float64(identical)/float64(n))
	fmt.Printf("- int8 / fp32 tokens/s, one caller: %.2fx (target ≥ 2x)\n", qTPS/fTPS)
}

func countAtLeast(xs []float64, v float64) int {
	n := 0
	for _, x := range xs {
		if x >= v {
			n++
		}
	}
	return n
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}
