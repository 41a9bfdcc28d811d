package m2m100

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/seq2seq"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// The int8 files against the fp32 ones on the real runtime: the logits the
// first token is chosen from point the same way (cosine ≥ 0.99, the figure
// issue #21 asks of the full model), and greedy search gives the same
// tokens unless fp32 itself was nearly undecided: where the outputs first
// differ, fp32 scores int8's pick within nearTie of its own. (The tiny
// model's near-ties are many, so the full model's 90% of identical outputs
// is measured there, by benchmarks/m2m100 --compare-variants.)
func TestInt8AgreesWithFP32(t *testing.T) {
	const nearTie = 0.1 // a tenth of a logit
	mc := engine.ModelConfig{MaxLength: 24, NumBeams: 1}
	fp32, int8 := load(t, tinyDir, "fp32", mc, false), load(t, tinyDir, "int8", mc, false)
	if fp32.Variant() != "fp32" || int8.Variant() != "int8" {
		t.Fatalf("loaded %s and %s", fp32.Variant(), int8.Variant())
	}
	inputs, identical := 0, 0
	for _, r := range requests {
		for _, tgt := range []string{r.tgt, "de", "ja", "sw"} {
			inputs++
			r := request{r.text, r.src, tgt}
			in := &engine.TranslationInput{Text: r.text, SourceLang: r.src, TargetLang: tgt}
			a, err := fp32.FirstStepLogits(in)
			if err != nil {
				t.Fatal(err)
			}
			b, err := int8.FirstStepLogits(in)
			if err != nil {
				t.Fatal(err)
			}
			if c := cosine(a, b); c < 0.99 {
				t.Errorf("%q → %s: first-step logits cosine %.4f", r.text, tgt, c)
			}
			fa, steps := trace(t, fp32, false, seq2seq.NewSearcher(fp32.search, prefixFor(fp32, r)), r)
			qa, _ := trace(t, int8, false, seq2seq.NewSearcher(int8.search, prefixFor(int8, r)), r)
			k := 0
			for k < min(len(fa.Tokens), len(qa.Tokens)) && fa.Tokens[k] == qa.Tokens[k] {
				k++
			}
			if k == len(fa.Tokens) && k == len(qa.Tokens) {
				identical++
				continue
			}
			if k == 0 || k >= min(len(fa.Tokens), len(qa.Tokens)) {
				t.Errorf("%q → %s: fp32 %v, int8 %v differ in the forced token or in length only", r.text, tgt, fa.Tokens, qa.Tokens)
				continue
			}
			// steps[k-1] scored the candidates for tokens[k] (tokens[0] is forced).
			row := steps[k-1][0]
			if margin := row[fa.Tokens[k]] - row[qa.Tokens[k]]; margin > nearTie {
				t.Errorf("%q → %s: outputs part at token %d, where fp32 prefers its pick by %.3f: fp32 %v, int8 %v",
					r.text, tgt, k, margin, fa.Tokens, qa.Tokens)
			}
		}
	}
	t.Logf("greedy output identical for %d of %d inputs", identical, inputs)
}

// FirstStepLogits is the first step of a translation: the same logits the
// cached decoder's first call gives (fp32: the reference path is checked
// against a float64 forward pass in models/synth).
func TestFirstStepLogitsAreTheFirstStep(t *testing.T) {
	forEachVariant(t, func(t *testing.T, variant string) {
		m := load(t, tinyDir, variant, engine.ModelConfig{MaxLength: 8, NumBeams: 1}, false)
		for _, r := range requests[:3] {
			_, steps := trace(t, m, false, seq2seq.NewSearcher(m.search, prefixFor(m, r)), r)
			got, err := m.FirstStepLogits(&engine.TranslationInput{Text: r.text, SourceLang: r.src, TargetLang: r.tgt})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, steps[0][0]) {
				t.Errorf("%q: FirstStepLogits differs from the first traced step by %g", r.text, maxDiff(got, steps[0][0]))
			}
		}
	})
}

// With int8 a row's logits depend on the rows computed beside it (one
// activation scale per tensor), so batched results are not bit-identical
// to single ones as fp32's are (TestBatchedEqualsAlone); they stay close,
// which a row mixed up with another would not.
func TestInt8BatchedRowsStayClose(t *testing.T) {
	m := load(t, tinyDir, "int8", engine.ModelConfig{MaxLength: 8, NumBeams: 1}, false)
	var jobs []job
	for _, r := range requests {
		src, _ := resolveLanguage("source_lang", r.src)
		jobs = append(jobs, job{src: m.tok.encode(r.text, src)})
	}
	first := func(jobs []job) [][]float32 {
		enc, err := m.encode(jobs)
		if err != nil {
			t.Fatal(err)
		}
		seqs := make([][]int64, len(jobs))
		for i := range seqs {
			seqs[i] = []int64{m.decoderStart}
		}
		logits, err := seq2seq.NewCachedState(m.dec, &seq2seq.Workspace{}, enc).Next(seqs)
		if err != nil {
			t.Fatal(err)
		}
		out := make([][]float32, len(logits))
		for i, row := range logits {
			out[i] = slices.Clone(row)
		}
		return out
	}
	together := first(jobs)
	for i, j := range jobs {
		alone := first([]job{j})[0]
		if c, d := cosine(together[i], alone), maxDiff(together[i], alone); c < 0.999 || d > agreementFor("int8").logits {
			t.Errorf("%q: batched first-step logits against alone: cosine %.5f, max difference %g", requests[i].text, c, d)
		}
		for k, other := range together {
			if k != i && cosine(other, alone) > cosine(together[i], alone) {
				t.Errorf("%q alone is closer to row %d than to its own row %d", requests[i].text, k, i)
			}
		}
	}
}

// Without a configured variant the CPU serves the catalog's default and a
// CUDA device fp32; each falls back to the other variant when only that
// one's files are there.
func TestDefaultVariant(t *testing.T) {
	entry := catalogEntry(t)
	onlyFP32, onlyInt8 := copyDir(t, tinyDir), copyDir(t, tinyDir)
	for _, f := range []string{synth.M2M100QuantizedEncoderFile, synth.M2M100QuantizedDecoderFile} {
		if err := os.Remove(filepath.Join(onlyFP32, filepath.FromSlash(f))); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{synth.M2M100EncoderFile, synth.M2M100DecoderFile} {
		if err := os.Remove(filepath.Join(onlyInt8, filepath.FromSlash(f))); err != nil {
			t.Fatal(err)
		}
	}
	catalogDefault := engine.ModelSpec{Entry: entry}.Variant()
	int8Only := "" // not installed while the catalog's default is fp32
	if catalogDefault == "int8" {
		int8Only = "int8"
	}
	for _, c := range []struct {
		dir, device, configured, want string
	}{
		{tinyDir, "", "", catalogDefault},
		{tinyDir, "cpu", "", catalogDefault},
		{tinyDir, "cuda", "", "fp32"},
		{tinyDir, "cuda:1", "", "fp32"},
		{tinyDir, "", "fp32", "fp32"},
		{tinyDir, "cuda", "int8", "int8"},
		{onlyFP32, "", "", "fp32"},
		{onlyInt8, "cuda", "", int8Only},
		{onlyInt8, "", "", int8Only},
	} {
		spec := engine.ModelSpec{Entry: entry, Paths: home.Resolve(t.TempDir(), os.Getenv),
			Config: engine.ModelConfig{Dir: c.dir, Device: c.device, Variant: c.configured}}
		files, _, err := locate(spec)
		_, checkErr := Backend{}.Check(context.Background(), spec)
		if c.want == "" {
			if engine.KindOf(checkErr) != engine.KindNotInstalled {
				t.Errorf("%s, device %q, variant %q: %v, want not installed", filepath.Base(c.dir), c.device, c.configured, checkErr)
			}
			continue
		}
		if err != nil || files.Variant != c.want || checkErr != nil {
			t.Errorf("%s, device %q, variant %q: served %q (%v, %v), want %q", filepath.Base(c.dir), c.device, c.configured, files.Variant, err, checkErr, c.want)
		}
	}
	// A configured variant whose files are absent is reported, not swapped.
	spec := engine.ModelSpec{Entry: entry, Config: engine.ModelConfig{Dir: onlyFP32, Variant: "int8"}}
	if _, err := (Backend{}).Check(context.Background(), spec); engine.KindOf(err) != engine.KindNotInstalled {
		t.Errorf("int8 configured, only fp32 installed: %v", err)
	}
}
