package m2m100

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/enginetest"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/seq2seq"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

var (
	// tinyDir holds the tiny synthetic M2M100: all eight ONNX files (fp32 and
	// int8).
	tinyDir string
	// pairDir is the same model without the merged decoders.
	pairDir string
)

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "m2m100-test-")
	if err != nil {
		panic(err)
	}
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: root}, []string{synth.M2M100ModelID}, os.Stderr); err != nil {
		panic(err)
	}
	tinyDir = filepath.Join(root, filepath.FromSlash(synth.M2M100ModelID))
	pairDir = filepath.Join(root, "pair")
	if err := linkTree(tinyDir, pairDir); err != nil {
		panic(err)
	}
	for _, merged := range []string{synth.M2M100DecoderFile, synth.M2M100QuantizedDecoderFile} {
		if err := os.Remove(filepath.Join(pairDir, filepath.FromSlash(merged))); err != nil {
			panic(err)
		}
	}
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}

// linkTree mirrors src into dst with symlinks to its files.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return os.Symlink(path, filepath.Join(dst, rel))
	})
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "model")
	if err := linkTree(src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func catalogEntry(t *testing.T) *engine.Entry {
	t.Helper()
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	e, ok := cat.Lookup(synth.M2M100ModelID)
	if !ok {
		t.Fatalf("%s is not in the catalog", synth.M2M100ModelID)
	}
	return e
}

// variants are the weight variants the backend tests run on.
var variants = []string{"fp32", "int8"}

func forEachVariant(t *testing.T, test func(t *testing.T, variant string)) {
	for _, v := range variants {
		t.Run(v, func(t *testing.T) { test(t, v) })
	}
}

// load serves the variant of the model in dir through the real backend and ONNX Runtime.
func load(t *testing.T, dir, variant string, mc engine.ModelConfig, recompute bool) *Model {
	t.Helper()
	orttest.Require(t)
	mc.Dir = dir
	mc.Variant = variant
	mc.IntraOpThreads = 1
	spec := engine.ModelSpec{Entry: catalogEntry(t), Config: mc, Paths: home.Resolve(t.TempDir(), os.Getenv)}
	if _, err := (Backend{}).Check(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	m, err := Backend{Recompute: recompute}.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m.(*Model)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

type request struct{ text, src, tgt string }

// requests differ in length and target language.
var requests = []request{
	{"The translator reads the window and the garden.", "en", "fr"},
	{"Die kleine Brücke", "german", "english"},
	{"東京の小さなコンピューター、翻訳エンジン？", "ja", "ko"},
	{"Hello", "en", "es"},
	{"Каждое утро: новости и чашка чая. Où est le café ?", "ru", "zh"},
}

func translate(t *testing.T, ctx context.Context, m *Model, r request) *Translation {
	t.Helper()
	out, err := m.TranslateTokens(ctx, &engine.TranslationInput{Text: r.text, SourceLang: r.src, TargetLang: r.tgt})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// translateAsync translates on another goroutine; the result arrives on the
// channel, nil after a failure (reported).
func translateAsync(t *testing.T, ctx context.Context, m *Model, r request) chan *Translation {
	ch := make(chan *Translation, 1)
	go func() {
		out, err := m.TranslateTokens(ctx, &engine.TranslationInput{Text: r.text, SourceLang: r.src, TargetLang: r.tgt})
		if err != nil {
			t.Errorf("%q: %v", r.text, err)
		}
		ch <- out
	}()
	return ch
}

// trace decodes one request outside the scheduler, step by step, and
// records every step's logits.
func trace(t *testing.T, m *Model, recompute bool, s seq2seq.Searcher, r request) (seq2seq.Hypothesis, [][][]float32) {
	t.Helper()
	src, _ := resolveLanguage("source_lang", r.src)
	enc, err := m.encode([]job{{src: m.tok.encode(r.text, src)}})
	if err != nil {
		t.Fatal(err)
	}
	ws := &seq2seq.Workspace{}
	var state seq2seq.State = seq2seq.NewCachedState(m.dec, ws, enc)
	if recompute {
		state = seq2seq.NewRecomputeState(m.dec, ws, enc)
	}
	var steps [][][]float32
	for {
		logits, err := state.Next(s.Sequences())
		if err != nil {
			t.Fatal(err)
		}
		copied := make([][]float32, len(logits))
		for i, row := range logits {
			copied[i] = slices.Clone(row)
		}
		steps = append(steps, copied)
		parents, done := s.Advance(logits, seq2seq.SummarizeRows(logits, m.search.Candidates()))
		if done {
			return s.Result(), steps
		}
		state.Keep(parents, len(parents) != len(logits))
	}
}

func maxDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst
}

func prefixFor(m *Model, r request) []int64 {
	tgt, _ := resolveLanguage("target_lang", r.tgt)
	return []int64{m.decoderStart, m.tok.langID(tgt)}
}

// agreement is how closely two runs of one variant must agree when they
// differ in how rows and positions were grouped into ONNX Runtime calls.
// fp32 computes each row and position on its own, up to float rounding.
// int8 does not: DynamicQuantizeLinear quantizes a whole activation tensor
// with one scale, so a row's logits move with what is computed beside it
// (the other rows of a batch, the rest of a recomputed prefix), and beam
// search can then rank near-equal beams differently.
type agreement struct {
	logits, score float64
	beamTokens    bool // beam search's tokens must be equal too (greedy's always are)
}

func agreementFor(variant string) agreement {
	if variant == "int8" {
		return agreement{logits: 0.1, score: 0.1}
	}
	return agreement{logits: 1e-4, score: 1e-4, beamTokens: true}
}

func TestCacheMatchesRecomputation(t *testing.T) {
	forEachVariant(t, func(t *testing.T, variant string) {
		tol := agreementFor(variant)
		mc := engine.ModelConfig{MaxLength: 24, NumBeams: 1}
		cached := load(t, tinyDir, variant, mc, false)
		recomputed := load(t, tinyDir, variant, mc, true)
		for _, r := range requests {
			a, stepsA := trace(t, cached, false, seq2seq.NewSearcher(cached.search, prefixFor(cached, r)), r)
			b, stepsB := trace(t, recomputed, true, seq2seq.NewSearcher(recomputed.search, prefixFor(recomputed, r)), r)
			if !slices.Equal(a.Tokens, b.Tokens) {
				t.Errorf("%q: cached decoding gave %v, recomputation %v", r.text, a.Tokens, b.Tokens)
				continue
			}
			if len(a.Tokens) < 10 {
				t.Errorf("%q: only %d tokens; the comparison should cover many cached steps", r.text, len(a.Tokens))
			}
			for i := range stepsA {
				if d := maxDiff(stepsA[i][0], stepsB[i][0]); d > tol.logits {
					t.Errorf("%q step %d: logits differ by %g", r.text, i, d)
				}
			}
		}

		// And through the scheduler, beam search included.
		ctx := testContext(t)
		for _, beams := range []int{1, 3} {
			mc := engine.ModelConfig{MaxLength: 24, NumBeams: beams}
			cached, recomputed := load(t, tinyDir, variant, mc, false), load(t, tinyDir, variant, mc, true)
			for _, r := range requests {
				a, b := translate(t, ctx, cached, r), translate(t, ctx, recomputed, r)
				sameTokens := slices.Equal(a.Tokens, b.Tokens) || (beams > 1 && !tol.beamTokens)
				if !sameTokens || math.Abs(a.Score-b.Score) > tol.score {
					t.Errorf("%d beams, %q: cached %v (%v), recomputed %v (%v)", beams, r.text, a.Tokens, a.Score, b.Tokens, b.Score)
				}
			}
		}
	})
}

func TestPairFilesMatchTheMergedDecoder(t *testing.T) {
	forEachVariant(t, func(t *testing.T, variant string) {
		ctx := testContext(t)
		for _, beams := range []int{1, 3} {
			mc := engine.ModelConfig{MaxLength: 24, NumBeams: beams}
			merged, pair := load(t, tinyDir, variant, mc, false), load(t, pairDir, variant, mc, false)
			if pair.dec.Merged != nil || pair.dec.WithPast == nil || merged.dec.Merged == nil {
				t.Fatal("the pair directory should load decoder_model + decoder_with_past_model, the full one the merged file")
			}
			for _, r := range requests {
				a, b := translate(t, ctx, merged, r), translate(t, ctx, pair, r)
				if !slices.Equal(a.Tokens, b.Tokens) || math.Abs(a.Score-b.Score) > 1e-4 {
					t.Errorf("%d beams, %q: merged %v (%v), pair %v (%v)", beams, r.text, a.Tokens, a.Score, b.Tokens, b.Score)
				}
			}
		}
	})
}

func TestOneBeamEqualsGreedy(t *testing.T) {
	forEachVariant(t, func(t *testing.T, variant string) {
		m := load(t, tinyDir, variant, engine.ModelConfig{MaxLength: 24, NumBeams: 1}, false)
		oneBeam := m.search
		oneBeam.NumBeams = 1
		for _, r := range requests {
			g, _ := trace(t, m, false, seq2seq.NewGreedy(m.search, prefixFor(m, r)), r)
			b, _ := trace(t, m, false, seq2seq.NewBeamSearch(oneBeam, prefixFor(m, r)), r)
			if !slices.Equal(g.Tokens, b.Tokens) || g.EOS != b.EOS {
				t.Errorf("%q: greedy %v, one beam %v", r.text, g.Tokens, b.Tokens)
			}
		}
	})
}

// TestBeamScoreIsLengthNormalized recomputes each result's log-probability
// token by token without the cache and checks the reported score is it
// divided by the number of generated tokens (length_penalty 1), as
// Hugging Face's sequences_scores are.
func TestBeamScoreIsLengthNormalized(t *testing.T) {
	forEachVariant(t, func(t *testing.T, variant string) {
		ctx := testContext(t)
		m := load(t, tinyDir, variant, engine.ModelConfig{MaxLength: 16, NumBeams: 4}, false)
		ref := load(t, tinyDir, variant, engine.ModelConfig{MaxLength: 16}, true)
		for _, r := range requests[:3] {
			got := translate(t, ctx, m, r)
			seq := append(prefixFor(m, r), got.Tokens[1:]...)
			if got.Generated > len(got.Tokens) {
				seq = append(seq, m.search.EOS)
			}
			src, _ := resolveLanguage("source_lang", r.src)
			enc, err := ref.encode([]job{{src: ref.tok.encode(r.text, src)}})
			if err != nil {
				t.Fatal(err)
			}
			state := seq2seq.NewRecomputeState(ref.dec, &seq2seq.Workspace{}, enc)
			sum := 0.0 // the forced language token adds log 1
			for k := 2; k < len(seq); k++ {
				logits, err := state.Next([][]int64{seq[:k]})
				if err != nil {
					t.Fatal(err)
				}
				sum += float64(logits[0][seq[k]]) - seq2seq.Summarize(logits[0], 1).Norm
			}
			generated := len(seq) - 1
			if generated != got.Generated {
				t.Fatalf("%q: %d tokens generated, result says %d", r.text, generated, got.Generated)
			}
			if want := sum / float64(generated); math.Abs(got.Score-want) > agreementFor(variant).score {
				t.Errorf("%q: score %v, want log-probability %v / %d tokens = %v", r.text, got.Score, sum, generated, want)
			}
		}
	})
}

func TestBatchedEqualsAlone(t *testing.T) {
	variant := "fp32" // int8 results depend on the batch: see agreement and TestInt8BatchedRowsStayClose
	ctx := testContext(t)
	for _, beams := range []int{1, 3} {
		mc := engine.ModelConfig{MaxLength: 40, NumBeams: beams, MaxBatchSize: 8, MaxQueueDelay: engine.Duration(time.Second)}
		m := load(t, tinyDir, variant, mc, false)
		alone := make([]*Translation, len(requests))
		for i, r := range requests {
			alone[i] = translate(t, ctx, m, r)
		}
		check := func(what string, got []*Translation) {
			t.Helper()
			for i := range requests {
				if !slices.Equal(got[i].Tokens, alone[i].Tokens) || got[i].Text != alone[i].Text || math.Abs(got[i].Score-alone[i].Score) > 1e-4 {
					t.Errorf("%d beams, %s, %q: %v (%v), alone %v (%v)", beams, what, requests[i].text, got[i].Tokens, got[i].Score, alone[i].Tokens, alone[i].Score)
				}
			}
		}

		// All at once: with a long queue delay they share one cohort.
		cohorts := m.stats.Cohorts.Load()
		var chans []chan *Translation
		for _, r := range requests {
			chans = append(chans, translateAsync(t, ctx, m, r))
		}
		together := collect(t, chans)
		if n := m.stats.Cohorts.Load() - cohorts; n != 1 {
			t.Errorf("%d beams: %d requests at once ran in %d cohorts, want 1", beams, len(requests), n)
		}
		check("batched", together)

		// Staggered: each request joins while earlier ones decode, in a
		// cohort of its own that takes turns with theirs.
		m2 := load(t, tinyDir, variant, engine.ModelConfig{MaxLength: 40, NumBeams: beams, MaxBatchSize: 8}, false)
		chans = nil
		for _, r := range requests {
			steps := m2.stats.Steps.Load()
			ch := translateAsync(t, ctx, m2, r)
			chans = append(chans, ch)
			waitFor(t, func() bool { return m2.stats.Steps.Load() > steps+2 || len(ch) > 0 })
		}
		check("staggered", collect(t, chans))
	}
}

func collect(t *testing.T, chans []chan *Translation) []*Translation {
	t.Helper()
	out := make([]*Translation, len(chans))
	for i, ch := range chans {
		if out[i] = <-ch; out[i] == nil {
			t.FailNow()
		}
	}
	return out
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func TestCancelledRequestLeavesItsCohort(t *testing.T) {
	variant := "fp32" // int8 results depend on the batch: see agreement and TestInt8BatchedRowsStayClose
	ctx := testContext(t)
	mc := engine.ModelConfig{MaxLength: 200, NumBeams: 2, MaxBatchSize: 4, MaxQueueDelay: engine.Duration(time.Second)}
	m := load(t, tinyDir, variant, mc, false)
	alone := translate(t, ctx, m, requests[0])

	leaving, leave := context.WithCancel(ctx)
	left := make(chan error, 1)
	go func() {
		_, err := m.TranslateTokens(leaving, &engine.TranslationInput{Text: requests[4].text, SourceLang: "ru", TargetLang: "zh"})
		left <- err
	}()
	steps := m.stats.Steps.Load()
	stay := translateAsync(t, ctx, m, requests[0])
	waitFor(t, func() bool { return m.stats.Steps.Load() > steps+3 })
	leave()
	leftErr := <-left
	stayed := collect(t, []chan *Translation{stay})[0]
	if !errors.Is(leftErr, context.Canceled) {
		t.Errorf("the cancelled request got %v", leftErr)
	}
	if !slices.Equal(stayed.Tokens, alone.Tokens) {
		t.Errorf("the remaining request gave %v, alone %v", stayed.Tokens, alone.Tokens)
	}
}

func TestTranslateThroughTheEngine(t *testing.T) {
	forEachVariant(t, func(t *testing.T, variant string) {
		orttest.Require(t)
		eng := enginetest.New(t, map[string]engine.ModelConfig{synth.M2M100ModelID: {Dir: tinyDir, Variant: variant, MaxLength: 12, NumBeams: 2}},
			map[string]engine.Backend{Kind: Backend{}}, nil)
		ctx := testContext(t)
		run := func(body string) (string, error) {
			out, err := eng.Run(ctx, synth.M2M100ModelID, engine.Input{JSON: []byte(body)})
			if err != nil {
				return "", err
			}
			return out.(*engine.TranslationOutput).TranslatedText, nil
		}
		byCode, err := run(`{"text": "The translator reads the window.", "source_lang": "en", "target_lang": "fr"}`)
		if err != nil {
			t.Fatal(err)
		}
		byName, err := run(`{"text": "The translator reads the window.", "source_lang": "English", "target_lang": "french"}`)
		if err != nil {
			t.Fatal(err)
		}
		byDefault, err := run(`{"text": "The translator reads the window.", "target_lang": "FR"}`)
		if err != nil {
			t.Fatal(err)
		}
		if byCode != byName || byCode != byDefault {
			t.Errorf("codes %q, names %q and the default source %q should translate alike", byCode, byName, byDefault)
		}
		other, err := run(`{"text": "The translator reads the window.", "target_lang": "de"}`)
		if err != nil {
			t.Fatal(err)
		}
		if other == byCode {
			t.Errorf("French and German gave the same text %q; the target language must reach the decoder", other)
		}

		for _, c := range []struct {
			body       string
			status     int
			code       int
			msgContain string
		}{
			{`{"text": "hi", "target_lang": "klingon"}`, 400, 5006, "target_lang"},
			{`{"text": "hi", "source_lang": "elvish", "target_lang": "fr"}`, 400, 5006, "source_lang"},
			{`{"text": "", "target_lang": "fr"}`, 400, 5006, "text"},
			{`{"text": "` + strings.Repeat("a ", 1100) + `", "target_lang": "fr"}`, 413, 3006, "1024"},
		} {
			_, err := run(c.body)
			d := engine.Describe(err)
			if d.Status != c.status || d.Code != c.code || !strings.Contains(d.Message, c.msgContain) {
				t.Errorf("%.60s…: %d %d %q, want %d %d mentioning %q", c.body, d.Status, d.Code, d.Message, c.status, c.code, c.msgContain)
			}
		}
	})
}

// An empty directory names the missing files of the variant the device
// would serve: the catalog's default on the CPU, fp32 on a CUDA device.
func TestNotInstalled(t *testing.T) {
	for device, want := range map[string]string{"": synth.M2M100QuantizedDecoderFile, "cuda": synth.M2M100DecoderFile} {
		spec := engine.ModelSpec{Entry: catalogEntry(t), Config: engine.ModelConfig{Dir: t.TempDir(), Device: device}}
		_, err := Backend{}.Check(context.Background(), spec)
		if engine.KindOf(err) != engine.KindNotInstalled || !strings.Contains(err.Error(), want+",") && !strings.Contains(err.Error(), want+")") {
			t.Errorf("empty directory, device %q: %v, want %s named", device, err, want)
		}
	}
}

// A GPU gets bigger batches; the model config still has the last word, and
// MaxLiveItems follows the batch size on both devices.
func TestGPUSchedulerDefaults(t *testing.T) {
	spec := engine.ModelSpec{Entry: catalogEntry(t)}
	cpu, gpu := schedulerConfig(spec, false), schedulerConfig(spec, true)
	if gpu.MaxBatchSize <= cpu.MaxBatchSize || gpu.MaxBatchTokens <= cpu.MaxBatchTokens || gpu.MaxLiveItems != gpu.MaxBatchSize {
		t.Fatalf("cpu %+v, gpu %+v", cpu, gpu)
	}
	spec.Config.MaxBatchSize = 4
	if c := schedulerConfig(spec, true); c.MaxBatchSize != 4 || c.MaxLiveItems != 4 {
		t.Fatalf("max_batch_size 4 on a GPU gave %+v", c)
	}
}

// A half-precision export is refused at load with the tensor named: the
// search keeps float32 caches. A half BGE stands in for it, as the check
// reads only the declared types.
func TestHalfPrecisionExportIsRefused(t *testing.T) {
	orttest.Require(t)
	dir := t.TempDir()
	bge := "@cf/baai/bge-small-en-v1.5"
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: dir, Float16: true}, []string{bge}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for file, wantErr := range map[string]bool{synth.BGEModelFile: false, synth.BGEFloat16ModelFile: true} {
		s, err := ort.Open(filepath.Join(dir, filepath.FromSlash(bge), filepath.FromSlash(file)), ort.Options{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		err = seq2seq.Float32Only(nil, s)
		s.Close()
		if (err != nil) != wantErr || (wantErr && !strings.Contains(err.Error(), "last_hidden_state is float16")) {
			t.Errorf("%s: %v", file, err)
		}
	}
}

// Asked for CUDA, the model reports where its sessions run: the CUDA
// provider on a GPU machine, else the CPU with the reason it fell back.
func TestPlacement(t *testing.T) {
	forEachVariant(t, func(t *testing.T, variant string) {
		for _, dir := range []string{tinyDir, pairDir} {
			p := load(t, dir, variant, engine.ModelConfig{Device: "cuda"}, false).Placement()
			switch {
			case p.ExecutionProvider == "CUDAExecutionProvider" && p.Fallback == "":
			case p.ExecutionProvider == "CPUExecutionProvider" && p.Fallback != "":
			default:
				t.Errorf("%s: placement %+v", filepath.Base(dir), p)
			}
		}
		if p := load(t, tinyDir, variant, engine.ModelConfig{}, false).Placement(); p.ExecutionProvider != "CPUExecutionProvider" || p.Fallback != "" {
			t.Errorf("on the CPU as configured: placement %+v", p)
		}
	})
}
