package whisper

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"maps"
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
	"github.com/edgeinfer/edgeinfer/models/audioprep"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/seq2seq"
	"github.com/edgeinfer/edgeinfer/models/synth"
	"github.com/edgeinfer/edgeinfer/models/vad"
)

// modelsRoot holds the tiny synthetic Whisper models (tiny.en and
// large-v3-turbo geometry at tiny widths, fp32 and int8).
var modelsRoot string

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "whisper-test-")
	if err != nil {
		panic(err)
	}
	ids := []string{synth.WhisperTinyEnID, synth.WhisperLargeV3TurboID}
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: root}, ids, os.Stderr); err != nil {
		panic(err)
	}
	modelsRoot = root
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}

func modelDir(id string) string { return filepath.Join(modelsRoot, filepath.FromSlash(id)) }

// entry is the catalog's entry for id, or the one the catalog will carry
// (onnx-whisper, int8 by default on the CPU).
func entry(t *testing.T, id string) *engine.Entry {
	t.Helper()
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := cat.Lookup(id); ok && e.Backend == Kind {
		return e
	}
	return &engine.Entry{ID: id, Backend: Kind, Task: engine.TaskSpeechRecognition, Artifacts: engine.Artifacts{DefaultVariant: "int8"}}
}

// load serves a variant of a synthetic model through the real backend and
// ONNX Runtime.
func load(t *testing.T, id, variant string, mc engine.ModelConfig, recompute bool) *Model {
	t.Helper()
	orttest.Require(t)
	mc.Dir, mc.Variant, mc.IntraOpThreads = modelDir(id), variant, 1
	spec := engine.ModelSpec{Entry: entry(t, id), Config: mc, Paths: home.Resolve(t.TempDir(), os.Getenv)}
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// wav writes 16-bit mono PCM at rate: a chirp from f0 to f1 Hz over
// seconds, with a seeded hiss, so each request's audio differs.
func wav(seconds float64, rate int, f0, f1 float64, seed uint32) []byte {
	n := int(seconds * float64(rate))
	var pcm bytes.Buffer
	x := seed | 1
	for i := range n {
		tt := float64(i) / float64(rate)
		f := f0 + (f1-f0)*tt/seconds/2
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		v := 0.4*math.Sin(2*math.Pi*f*tt) + 0.05*(float64(x)/math.MaxUint32-0.5)
		binary.Write(&pcm, binary.LittleEndian, int16(v*32000))
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+pcm.Len()))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate * 2), uint16(2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(pcm.Len()))
	b.Write(pcm.Bytes())
	return b.Bytes()
}

// greedyOnly decodes at temperature 0 alone: no sampling, so two ways of
// computing the same logits must give the same tokens.
func greedyOnly(audio []byte) *engine.TranscriptionInput {
	return &engine.TranscriptionInput{Audio: audio, ConditionOnPreviousText: true, Temperature: []float64{0}}
}

func transcribe(t *testing.T, ctx context.Context, m *Model, in *engine.TranscriptionInput) *engine.TranscriptionOutput {
	t.Helper()
	out, err := m.Transcribe(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tokensOf(out *engine.TranscriptionOutput) [][]int64 {
	var toks [][]int64
	for _, s := range out.Segments {
		toks = append(toks, s.Tokens)
	}
	return toks
}

func sameSegments(a, b *engine.TranscriptionOutput) bool {
	if len(a.Segments) != len(b.Segments) || a.Text != b.Text || a.Language != b.Language {
		return false
	}
	for i := range a.Segments {
		x, y := a.Segments[i], b.Segments[i]
		if !slices.Equal(x.Tokens, y.Tokens) || x.Start != y.Start || x.End != y.End || x.Seek != y.Seek || math.Abs(x.AvgLogprob-y.AvgLogprob) > 1e-4 {
			return false
		}
	}
	return true
}

// decodeWindow decodes the first window of audio once through the
// model's scheduler, as the transcribe loop would at temperature 0.
func decodeWindow(t *testing.T, ctx context.Context, m *Model, audio []byte, lang string, beams int, prev []int64) windowResult {
	t.Helper()
	samples, err := decodeForTest(audio)
	if err != nil {
		t.Fatal(err)
	}
	tr := m.transcriber()
	features := make([]float32, m.mels*m.frames)
	if err := m.extractor.Extract(samples, features); err != nil {
		t.Fatal(err)
	}
	job, err := tr.job(&audioWindow{features: features}, prev, "", lang, 0, options{beams: beams})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.sched.Submit(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The key/value cache gives the tokens recomputation gives: one window
// per model, greedy and with beams, prompted with earlier text; and a
// whole two-window transcription.
func TestCacheMatchesRecomputation(t *testing.T) {
	ctx := testContext(t)
	prev := []int64{1, 2, 3, 50365, 40, 41, 50400}
	for _, id := range []string{synth.WhisperTinyEnID, synth.WhisperLargeV3TurboID} {
		short := engine.ModelConfig{MaxLength: 40}
		cached, recomputed := load(t, id, "fp32", short, false), load(t, id, "fp32", short, true)
		audio := wav(12, 16000, 200, 3000, 1)
		for _, beams := range []int{1, 2} {
			a := decodeWindow(t, ctx, cached, audio, "en", beams, prev)
			b := decodeWindow(t, ctx, recomputed, audio, "en", beams, prev)
			if !slices.Equal(a.tokens, b.tokens) || math.Abs(a.sumLogprob-b.sumLogprob) > 1e-3 || math.Abs(a.noSpeechProb-b.noSpeechProb) > 1e-5 {
				t.Errorf("%s, %d beams: cached %v (%v, no speech %v)\nrecomputed %v (%v, no speech %v)", id, beams, a.tokens, a.sumLogprob, a.noSpeechProb, b.tokens, b.sumLogprob, b.noSpeechProb)
			}
			if len(a.tokens) < 10 {
				t.Errorf("%s: only %d tokens; the comparison should cover many cached steps", id, len(a.tokens))
			}
		}
	}
	cached := load(t, synth.WhisperLargeV3TurboID, "fp32", engine.ModelConfig{MaxLength: 40}, false)
	recomputed := load(t, synth.WhisperLargeV3TurboID, "fp32", engine.ModelConfig{MaxLength: 40}, true)
	in := greedyOnly(wav(33, 16000, 200, 3000, 1))
	if a, b := transcribe(t, ctx, cached, in), transcribe(t, ctx, recomputed, in); !sameSegments(a, b) || len(a.Segments) < 2 {
		t.Errorf("cached %+v\nrecomputed %+v", a.Segments, b.Segments)
	}
}

// Requests decoded together (one encoder batch, shared decoder steps)
// give what each gives alone, greedy and with beams.
func TestBatchedEqualsAlone(t *testing.T) {
	ctx := testContext(t)
	audios := [][]byte{wav(12, 16000, 300, 900, 1), wav(35, 8000, 500, 2500, 2), wav(5, 44100, 1000, 200, 3), wav(20, 16000, 100, 4000, 4)}
	for _, beams := range []int{1, 3} {
		m := load(t, synth.WhisperLargeV3TurboID, "fp32", engine.ModelConfig{MaxLength: 60}, false)
		// Together: a long queue delay lets every first window join one
		// encoder batch, however slowly the features come.
		mt := load(t, synth.WhisperLargeV3TurboID, "fp32", engine.ModelConfig{MaxLength: 60, MaxBatchSize: 4, MaxQueueDelay: engine.Duration(5 * time.Second)}, false)
		var alone []*engine.TranscriptionOutput
		for _, a := range audios {
			in := greedyOnly(a)
			in.BeamSize = beams
			in.Language = "en"
			alone = append(alone, transcribe(t, ctx, m, in))
		}
		cohorts, windows := mt.Stats().Cohorts.Load(), mt.Stats().Requests.Load()
		outs := make([]chan *engine.TranscriptionOutput, len(audios))
		for i, a := range audios {
			outs[i] = make(chan *engine.TranscriptionOutput, 1)
			go func() {
				in := greedyOnly(a)
				in.BeamSize = beams
				in.Language = "en"
				out, err := mt.Transcribe(ctx, in)
				if err != nil {
					t.Error(err)
				}
				outs[i] <- out
			}()
		}
		for i, ch := range outs {
			got := <-ch
			if got == nil || !sameSegments(got, alone[i]) {
				t.Errorf("%d beams, request %d: together %v, alone %v", beams, i, tokensOf(got), tokensOf(alone[i]))
			}
		}
		// The first windows of all four share one cohort: at least three
		// cohorts fewer than windows.
		if n, w := mt.Stats().Cohorts.Load()-cohorts, mt.Stats().Requests.Load()-windows; n > w-3 {
			t.Errorf("%d beams: %d cohorts for %d windows; the four first windows should have shared one", beams, n, w)
		}
	}
}

// Detection reports the language whose token is likeliest after
// <|startoftranscript|> on the first window, and its probability among the
// language tokens — recomputed here in float64 from the same logits.
func TestLanguageDetection(t *testing.T) {
	ctx := testContext(t)
	m := load(t, synth.WhisperLargeV3TurboID, "fp32", engine.ModelConfig{}, false)
	audio := wav(8, 16000, 400, 1200, 7)
	out := transcribe(t, ctx, m, greedyOnly(audio))

	a, err := decodeForTest(audio)
	if err != nil {
		t.Fatal(err)
	}
	features := make([]float32, m.mels*m.frames)
	if err := m.extractor.Extract(a, features); err != nil {
		t.Fatal(err)
	}
	enc, err := m.encode([]*windowJob{{window: &audioWindow{features: slices.Clone(features)}}})
	if err != nil {
		t.Fatal(err)
	}
	logits, err := seq2seq.NewCachedState(m.dec, &seq2seq.Workspace{}, enc).Next([][]int64{{m.vocab.sot}})
	if err != nil {
		t.Fatal(err)
	}
	best, z := "", 0.0
	bestLogit := math.Inf(-1)
	for _, l := range m.vocab.languages {
		v := float64(logits[0][l.id])
		z += math.Exp(v)
		if v > bestLogit {
			best, bestLogit = l.code, v
		}
	}
	want := math.Exp(bestLogit) / z
	if out.Language != best || math.Abs(out.LanguageProbability-want) > 1e-9 {
		t.Errorf("detected %s with %v, want %s with %v", out.Language, out.LanguageProbability, best, want)
	}
	// Given, the language is used, with probability 1.
	in := greedyOnly(audio)
	in.Language = "de"
	if got := transcribe(t, ctx, m, in); got.Language != "de" || got.LanguageProbability != 1 {
		t.Errorf("language de given: %s %v", got.Language, got.LanguageProbability)
	}
}

// An English-only model reports English, and int8 serves by default on the
// CPU.
func TestEnglishOnlyAndDefaultVariant(t *testing.T) {
	ctx := testContext(t)
	m := load(t, synth.WhisperTinyEnID, "", engine.ModelConfig{}, false)
	if m.Variant() != "int8" {
		t.Errorf("variant %s, want int8 on the CPU", m.Variant())
	}
	out := transcribe(t, ctx, m, &engine.TranscriptionInput{Audio: wav(3, 16000, 300, 600, 9), Language: "fr", ConditionOnPreviousText: true})
	if out.Language != "en" || math.Abs(out.Duration-3) > 1e-9 {
		t.Errorf("language %s, duration %v", out.Language, out.Duration)
	}
}

func decodeForTest(b []byte) ([]float32, error) {
	a, err := audioprep.Decode(b, audioprep.Limits{})
	if err != nil {
		return nil, err
	}
	return a.Samples, nil
}

// Word timestamps come from W5's alignment over the forced pass's
// cross-attention: the words the backend's word timer reports are those
// alignWords gives on the same pass recomputed here outside the scheduler.
// The synthetic tokenizer decodes these ids to nothing, so the words are
// named by a scripted codec (" w<id>") on both sides.
func TestWordTimestamps(t *testing.T) {
	ctx := testContext(t)
	m := load(t, synth.WhisperTinyEnID, "fp32", engine.ModelConfig{MaxLength: 30}, false)
	if !m.dec.CrossAttentions || len(m.alignmentHeads) == 0 {
		t.Fatal("the synthetic timestamped export should output cross_attentions.N and name alignment heads")
	}
	audio := wav(6, 16000, 300, 1500, 5)
	samples, err := decodeForTest(audio)
	if err != nil {
		t.Fatal(err)
	}
	size := len(samples) / hop
	features := make([]float32, m.mels*m.frames)
	if err := m.extractor.Extract(samples, features); err != nil {
		t.Fatal(err)
	}
	tr := m.transcriber()
	tr.codec = wordCodec{}
	res := decodeWindow(t, ctx, m, audio, "en", 1, nil)
	segs, _ := tr.segments(decoded{windowResult: res}, 0, size, false)
	timer := &wordTimer{t: tr, attention: true, heads: len(m.alignmentHeads)}
	if err := timer.time(ctx, segs, &audioWindow{features: slices.Clone(features)}, 0, size, "en", options{}); err != nil {
		t.Fatal(err)
	}

	enc, err := m.encode([]*windowJob{{window: &audioWindow{features: slices.Clone(features)}}})
	if err != nil {
		t.Fatal(err)
	}
	ref := &alignInput{TextRow: 1, MelFrames: size}
	prompt := []int64{m.vocab.sot, m.vocab.noTimestamps}
	for _, s := range segs {
		n := 0
		for _, tok := range s.tokens {
			if tok < m.vocab.eot {
				prompt = append(prompt, tok)
				ref.Pieces = append(ref.Pieces, []byte(wordCodec{}.decode([]int64{tok})))
				n++
			}
		}
		ref.Segments = append(ref.Segments, alignSegment{Tokens: n, Start: s.start, End: s.end})
	}
	if len(ref.Pieces) < 3 {
		t.Fatalf("the window decoded %d text tokens (%v); the test needs several", len(ref.Pieces), res.tokens)
	}
	state := seq2seq.NewRecomputeState(m.dec, &seq2seq.Workspace{}, enc)
	state.Capture(m.alignmentHeads)
	if _, err := state.Next([][]int64{append(prompt, m.vocab.eot)}); err != nil {
		t.Fatal(err)
	}
	rows := state.CrossAttention(0)
	ref.Attention = make([][][]float32, len(m.alignmentHeads))
	for h := range ref.Attention {
		for _, row := range rows {
			ref.Attention[h] = append(ref.Attention[h], row[h*m.positions:(h+1)*m.positions])
		}
	}
	want, _, err := alignWords(ref)
	if err != nil {
		t.Fatal(err)
	}
	words := 0
	for i, s := range want {
		if len(segs[i].words) != len(s.Words) || math.Abs(segs[i].start-s.Start) > 1e-9 || math.Abs(segs[i].end-s.End) > 1e-9 {
			t.Errorf("segment %d: %v–%v with %d words, reference %v–%v with %d", i, segs[i].start, segs[i].end, len(segs[i].words), s.Start, s.End, len(s.Words))
			continue
		}
		for k, w := range s.Words {
			got := segs[i].words[k]
			if got.text != w.Word || math.Abs(got.start-w.Start) > 1e-9 || math.Abs(got.end-w.End) > 1e-9 {
				t.Errorf("word %d.%d: %+v, reference %+v", i, k, got, w)
			}
			words++
		}
	}
	if words == 0 {
		t.Error("no words timed")
	}

	// End to end with word timestamps asked: the first window's segments
	// keep their tokens, and unless it ended on a single timestamp the next
	// window starts at its last word's end, as transcribe() seeks.
	in := greedyOnly(audio)
	in.WordTimestamps = true
	withWords, plain := transcribe(t, ctx, m, in), transcribe(t, ctx, m, greedyOnly(audio))
	first := func(out *engine.TranscriptionOutput) (segs []engine.TranscriptionSegment, next int) {
		next = -1
		for _, s := range out.Segments {
			if s.Seek == 0 {
				segs = append(segs, s)
			} else if next < 0 {
				next = s.Seek
			}
		}
		return segs, next
	}
	a, next := first(withWords)
	b, _ := first(plain)
	if !slices.EqualFunc(a, b, func(x, y engine.TranscriptionSegment) bool { return slices.Equal(x.Tokens, y.Tokens) }) {
		t.Errorf("word timing changed the first window's tokens: %v, plain %v", tokensOf(withWords), tokensOf(plain))
	}
	lastEnd := -1.0
	for _, s := range a {
		for _, w := range s.Words {
			lastEnd = w.End
		}
	}
	if next >= 0 && lastEnd >= 0 && next != int(math.Round(lastEnd*100)) {
		t.Errorf("the second window starts at frame %d, the first window's last word ends at %v s", next, lastEnd)
	}
}

// Times in the VAD's collected speech map back to the original audio.
func TestRestoreTimes(t *testing.T) {
	// Speech at 1–2 s and 3–4 s: collected 0–1 s is 1–2 s, 1–2 s is 3–4 s.
	times := vad.NewTimeMap([]vad.Chunk{{Start: 16000, End: 32000}, {Start: 48000, End: 64000}})
	segs := []segment{
		{start: 0.2, end: 1.0},
		{start: 0.5, end: 1.8, words: []word{{text: " a", start: 0.5, end: 0.9}, {text: " b", start: 1.2, end: 1.8}}},
	}
	restoreTimes(segs, times)
	if segs[0].start != 1.2 || segs[0].end != 2.0 {
		t.Errorf("segment without words: %v–%v, want 1.2–2", segs[0].start, segs[0].end)
	}
	w := segs[1].words
	if w[0].start != 1.5 || w[0].end != 1.9 || w[1].start != 3.2 || w[1].end != 3.8 || segs[1].start != 1.5 || segs[1].end != 3.8 {
		t.Errorf("segment with words: %+v %v–%v", w, segs[1].start, segs[1].end)
	}
}

// Through the engine with the real backend: a raw WAV body transcribes,
// bad bodies are 400s naming audio.
func TestTranscribeThroughTheEngine(t *testing.T) {
	orttest.Require(t)
	id := synth.WhisperTinyEnID
	eng := enginetest.New(t, map[string]engine.ModelConfig{id: {Dir: modelDir(id), MaxLength: 20}}, map[string]engine.Backend{Kind: Backend{}}, nil)
	ctx := testContext(t)
	out, err := eng.Run(ctx, id, engine.Input{Binary: wav(4, 22050, 300, 900, 11)})
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := out.(*engine.Transcription)
	if !ok || math.Abs(tr.Duration-4) > 1e-3 || tr.Language != "en" {
		t.Fatalf("got %T %+v", out, out)
	}
	for _, body := range [][]byte{[]byte("definitely not audio"), wav(4, 16000, 300, 900, 1)[:30]} {
		_, err := eng.Run(ctx, id, engine.Input{Binary: body})
		if d := engine.Describe(err); d.Status != 400 || !strings.Contains(d.Message, "audio") {
			t.Errorf("%q…: %d %q, want 400 naming audio", body[:10], d.Status, d.Message)
		}
	}
}

// vad_filter runs the Silero model from the backend's VAD directory and
// reports the speech kept; without the model it is a not-installed error.
func TestVADFilter(t *testing.T) {
	orttest.Require(t)
	ctx := testContext(t)
	root := t.TempDir()
	if err := synth.Generate(ctx, synth.Options{Preset: synth.Tiny, OutDir: root}, []string{synth.SileroModelID}, io.Discard); err != nil {
		t.Fatal(err)
	}
	id := synth.WhisperTinyEnID
	spec := engine.ModelSpec{Entry: entry(t, id), Config: engine.ModelConfig{Dir: modelDir(id), MaxLength: 20, IntraOpThreads: 1},
		Paths: home.Resolve(t.TempDir(), os.Getenv)}
	for _, c := range []struct {
		vadDir  string
		wantErr engine.Kind
	}{{filepath.Join(root, filepath.FromSlash(synth.SileroModelID)), 0}, {t.TempDir(), engine.KindNotInstalled}} {
		loaded, err := Backend{VADDir: c.vadDir}.Load(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		m := loaded.(*Model)
		out, err := m.Transcribe(ctx, &engine.TranscriptionInput{Audio: wav(5, 16000, 200, 800, 3), VADFilter: true, Temperature: []float64{0}})
		m.Close()
		if c.wantErr != 0 {
			if engine.KindOf(err) != c.wantErr || !strings.Contains(err.Error(), "silero") {
				t.Errorf("without the VAD model: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if out.DurationAfterVAD < 0 || out.DurationAfterVAD > out.Duration || math.Abs(out.Duration-5) > 1e-9 {
			t.Errorf("duration %v, after VAD %v", out.Duration, out.DurationAfterVAD)
		}
		for _, s := range out.Segments {
			if s.Start < 0 || s.End > out.Duration+0.02 {
				t.Errorf("segment %v–%v outside the original audio", s.Start, s.End)
			}
		}
	}
}

// A window is encoded once: its fallback temperatures and its word
// alignment pass decode from the encoder output of its first job.
func TestEachWindowIsEncodedOnce(t *testing.T) {
	ctx := testContext(t)
	m := load(t, synth.WhisperTinyEnID, "fp32", engine.ModelConfig{MaxLength: 30}, false)
	never := 0.0 // every decoding has an average log-probability below 0: each temperature is tried
	in := &engine.TranscriptionInput{Audio: wav(35, 16000, 200, 3000, 7), Temperature: []float64{0, 0.5, 1},
		LogProbThreshold: &never, WordTimestamps: true}
	jobs, encoded := m.Stats().Requests.Load(), m.encoded.Load()
	out := transcribe(t, ctx, m, in)
	windows := map[int]bool{}
	for _, s := range out.Segments {
		windows[s.Seek] = true
	}
	jobs, encoded = m.Stats().Requests.Load()-jobs, m.encoded.Load()-encoded
	if len(windows) < 2 || encoded != int64(len(windows)) {
		t.Errorf("%d windows encoded %d times", len(windows), encoded)
	}
	// Three temperatures and an alignment pass per window.
	if want := int64(4 * len(windows)); jobs != want {
		t.Errorf("%d jobs for %d windows, want %d", jobs, len(windows), want)
	}
}

// Without timestamps each 30 s window is decoded once, after
// <|notimestamps|>, as one segment spanning it; the first window detects
// the language, the later ones decode together (sharing decoder steps),
// and each gives the tokens it gives decoded alone.
func TestWithoutTimestamps(t *testing.T) {
	ctx := testContext(t)
	// Batches of two, held up to 2 s: windows 2 and 3 start together.
	m := load(t, synth.WhisperLargeV3TurboID, "fp32", engine.ModelConfig{MaxLength: 30, MaxBatchSize: 2, MaxQueueDelay: engine.Duration(2 * time.Second)}, false)
	alone := load(t, synth.WhisperLargeV3TurboID, "fp32", engine.ModelConfig{MaxLength: 30}, false)
	audio := wav(75, 16000, 200, 3000, 9)
	steps, rows := m.Stats().Steps.Load(), m.Stats().DecoderRows.Load()
	out := transcribe(t, ctx, m, &engine.TranscriptionInput{Audio: audio, Temperature: []float64{0}, WithoutTimestamps: true})
	steps, rows = m.Stats().Steps.Load()-steps, m.Stats().DecoderRows.Load()-rows
	if len(out.Segments) != 3 || out.Language == "" {
		t.Fatalf("language %q, %d segments, want 3: %+v", out.Language, len(out.Segments), out.Segments)
	}
	if rows <= steps {
		t.Errorf("%d decoder rows in %d steps: the later windows should share steps", rows, steps)
	}
	samples, err := decodeForTest(audio)
	if err != nil {
		t.Fatal(err)
	}
	o, err := alone.options(&engine.TranscriptionInput{Temperature: []float64{0}, WithoutTimestamps: true, Language: out.Language})
	if err != nil {
		t.Fatal(err)
	}
	tr := alone.transcriber()
	for k, s := range out.Segments {
		seek := k * alone.frames
		size := min(alone.frames, len(samples)/hop-seek)
		if s.Seek != seek || s.Start != float64(30*k) || s.End != float64(seek+size)/100 {
			t.Errorf("segment %d: seek %d, %v–%v s; want the window at %d, %v–%v s", k, s.Seek, s.Start, s.End, seek, 30*k, float64(seek+size)/100)
		}
		w, err := tr.window(ctx, samples, seek, size)
		if err != nil {
			t.Fatal(err)
		}
		job, err := tr.job(w, nil, "", out.Language, 0, o)
		if err != nil {
			t.Fatal(err)
		}
		if job.prompt[len(job.prompt)-1] != alone.vocab.noTimestamps || job.rules.timestamps {
			t.Fatalf("prompt %v, timestamp rules %v: want <|notimestamps|> last and no timestamp rules", job.prompt, job.rules.timestamps)
		}
		res, err := alone.sched.Submit(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.tokens) == 0 || !slices.Equal(res.tokens, s.Tokens) {
			t.Errorf("window %d: %v in the request, %v alone", k, s.Tokens, res.tokens)
		}
	}
}

// A window that starts while another decodes catches up with it and joins
// its decoder calls (seq2seq.Groups, CachedState.Join); both give the
// tokens they give decoded alone.
func TestJoinedWindowsDecodeAsAlone(t *testing.T) {
	ctx := testContext(t)
	m := load(t, synth.WhisperTinyEnID, "fp32", engine.ModelConfig{MaxLength: 40}, false)
	audios := [][]byte{wav(12, 16000, 200, 3000, 1), wav(20, 16000, 500, 900, 2)}
	var alone []windowResult
	var jobs []*windowJob
	tr := m.transcriber()
	for _, a := range audios {
		alone = append(alone, decodeWindow(t, ctx, m, a, "", 1, nil))
		samples, err := decodeForTest(a)
		if err != nil {
			t.Fatal(err)
		}
		w, err := tr.window(ctx, samples, 0, len(samples)/hop)
		if err != nil {
			t.Fatal(err)
		}
		job, err := tr.job(w, nil, "", "", 0, options{beams: 1})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, job)
	}
	// The scheduler is idle: this goroutine may use the model's sessions.
	first, err := m.startCohort(jobs[:1])
	if err != nil {
		t.Fatal(err)
	}
	g := first.(*seq2seq.Groups[windowResult])
	defer g.Close()
	got := map[int]windowResult{}
	step := func() {
		outs, err := g.Step()
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(got, outs)
	}
	for range 3 {
		step()
	}
	second, err := m.startCohort(jobs[1:])
	if err != nil {
		t.Fatal(err)
	}
	if !g.Merge(second, 1) {
		t.Fatal("Merge refused the newer cohort")
	}
	rows, steps := m.Stats().DecoderRows.Load(), m.Stats().Steps.Load()
	for i := 0; len(got) < 2 && i < 200; i++ {
		step()
	}
	for i, want := range alone {
		if !slices.Equal(got[i].tokens, want.tokens) || math.Abs(got[i].sumLogprob-want.sumLogprob) > 1e-3 {
			t.Errorf("window %d: joined %v (%v), alone %v (%v)", i, got[i].tokens, got[i].sumLogprob, want.tokens, want.sumLogprob)
		}
	}
	if rows, steps = m.Stats().DecoderRows.Load()-rows, m.Stats().Steps.Load()-steps; rows <= steps {
		t.Errorf("%d rows in %d decoder steps after the merge: the windows never joined (tokens %d and %d)", rows, steps, len(alone[0].tokens), len(alone[1].tokens))
	}
}

// On the CPU a wide encoder runs fewer windows at once than decode
// together; on a GPU both are max_batch_size.
func TestEncoderWindowsPerRun(t *testing.T) {
	spec := engine.ModelSpec{Entry: entry(t, synth.WhisperLargeV3TurboID)}
	for _, c := range []struct {
		gpu              bool
		dModel           int
		perRun, decoding int
	}{{false, 384, 8, 8}, {false, 1280, 2, 8}, {false, 1 << 20, 1, 8}, {true, 1280, gpuMaxBatchSize, gpuMaxBatchSize}} {
		cfg := schedulerConfig(spec, c.gpu, c.dModel)
		if cfg.MaxBatchSize != c.perRun || cfg.MaxLiveItems != c.decoding || cfg.MaxBatchTokens != c.perRun*windowPositions {
			t.Errorf("gpu %v, d_model %d: %d windows per encoder run (%d positions), %d decoding; want %d and %d",
				c.gpu, c.dModel, cfg.MaxBatchSize, cfg.MaxBatchTokens, cfg.MaxLiveItems, c.perRun, c.decoding)
		}
	}
}
