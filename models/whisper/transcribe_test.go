package whisper

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/audioprep"
)

// The real multilingual layout (large-v3): <|endoftext|> 50257,
// <|startoftranscript|> 50258, languages from 50259, <|notimestamps|>
// 50364, timestamps from 50365.
func testVocab() *specialTokens {
	v := &specialTokens{sot: 50258, eot: 50257, noTimestamps: 50364, noSpeech: 50363, sotPrev: 50362, sotLM: 50361,
		transcribe: 50360, translate: 50359, timestampBegin: 50365, multilingual: true, byCode: map[string]int64{}}
	for i, code := range []string{"en", "zh", "de"} {
		v.languages = append(v.languages, languageToken{code: code, id: 50259 + int64(i)})
		v.byCode[code] = 50259 + int64(i)
	}
	return v
}

// wordCodec decodes text token k as "wk " and encodes words "wk" back.
type wordCodec struct{}

func (wordCodec) encode(text string) []int64 {
	var ids []int64
	for _, w := range strings.Fields(text) {
		var k int64
		fmt.Sscanf(w, "w%d", &k)
		ids = append(ids, k)
	}
	return ids
}

func (wordCodec) decode(ids []int64) string {
	var b strings.Builder
	for _, id := range ids {
		if id < 50257 {
			fmt.Fprintf(&b, " w%d", id)
		}
	}
	return b.String()
}

// fakeDecoder answers window jobs from a script and records them.
type fakeDecoder struct {
	jobs   []*windowJob
	answer func(job *windowJob, n int) windowResult
}

func (f *fakeDecoder) submit(_ context.Context, j *windowJob) (windowResult, error) {
	f.jobs = append(f.jobs, j)
	return f.answer(j, len(f.jobs)-1), nil
}

func testExtractor() (*audioprep.WhisperExtractor, error) {
	return audioprep.ParseWhisperConfig([]byte(`{"feature_size": 80}`))
}

func testTranscriber(t *testing.T, f *fakeDecoder) *transcriber {
	t.Helper()
	ex, err := testExtractor()
	if err != nil {
		t.Fatal(err)
	}
	return &transcriber{vocab: testVocab(), codec: wordCodec{}, extractor: ex, positions: 1500, maxTarget: 448, submit: f.submit}
}

func ts(seconds float64) int64 { return 50365 + int64(math.Round(seconds/0.02)) }

func ptr(v float64) *float64 { return &v }

func defaults() options {
	return options{language: "en", beams: 1, conditionOnPrevious: true, temperatures: []float64{0, 0.2, 0.4, 0.6, 0.8, 1.0},
		noSpeech: ptr(0.6), compressionRatio: ptr(2.4), logProb: ptr(-1)}
}

// Segments come from timestamp pairs; the next window starts at the last
// complete segment's end, or after the window when it ends on a single
// timestamp, as transcribe() seeks.
func TestSegmentsAndSeeking(t *testing.T) {
	f := &fakeDecoder{answer: func(j *windowJob, n int) windowResult {
		switch n {
		case 0: // two segments, the last cut mid-way: seek to 10 s
			return windowResult{tokens: []int64{ts(0), 11, 12, ts(5), ts(5), 13, ts(10), ts(10), 14}, avgLogprob: -0.2}
		case 1: // one segment and a single ending timestamp: the whole window
			return windowResult{tokens: []int64{ts(0.5), 15, ts(3), ts(3), 16, ts(29)}, avgLogprob: -0.2}
		default: // no pairs: one segment from the window start to the last timestamp
			return windowResult{tokens: []int64{ts(1), 17, ts(4)}, avgLogprob: -0.2}
		}
	}}
	tr := testTranscriber(t, f)
	out, err := tr.run(context.Background(), make([]float32, 45*16000), defaults())
	if err != nil {
		t.Fatal(err)
	}
	type seg struct {
		seek       int
		start, end float64
		text       string
	}
	want := []seg{{0, 0, 5, " w11 w12"}, {0, 5, 10, " w13"}, {1000, 10.5, 13, " w15"}, {1000, 13, 39, " w16"}, {4000, 40, 44, " w17"}}
	var got []seg
	for _, s := range out.segments {
		got = append(got, seg{s.seek, math.Round(s.start*100) / 100, math.Round(s.end*100) / 100, s.text})
	}
	if !slices.Equal(got, want) {
		t.Errorf("segments %+v\nwant %+v", got, want)
	}
	// The third window (seek 4000 = 40 s) is the last 5 s of audio.
	if len(f.jobs) != 3 {
		t.Fatalf("%d windows decoded, want 3", len(f.jobs))
	}
	// Each window after the first is prompted with the text so far.
	p := f.jobs[2].prompt
	if p[0] != 50362 || !slices.Contains(p, 15) || !slices.Contains(p, 11) || p[f.jobs[2].sotIndex] != 50258 {
		t.Errorf("third window's prompt %v: want <|startofprev|>, the earlier tokens, then <|startoftranscript|>", p)
	}
}

// A window is decoded again at the next temperature while its average
// log-probability or compression ratio fails the thresholds; one judged
// silence (no_speech above its threshold and a low log-probability) is
// neither retried nor kept.
func TestTemperatureFallback(t *testing.T) {
	repetitive := slices.Repeat([]int64{7, 8}, 60)
	for _, c := range []struct {
		name    string
		results []windowResult
		temps   []float64
		kept    bool
	}{
		{"low log-probability", []windowResult{{avgLogprob: -1.5}, {avgLogprob: -1.2}, {avgLogprob: -0.4}}, []float64{0, 0.2, 0.4}, true},
		{"repetitive text", []windowResult{{tokens: repetitive, avgLogprob: -0.1}, {tokens: []int64{7, 8}, avgLogprob: -0.3}}, []float64{0, 0.2}, true},
		{"silence", []windowResult{{avgLogprob: -1.5, noSpeechProb: 0.9}}, []float64{0}, false},
		{"speech despite no_speech", []windowResult{{tokens: []int64{3}, avgLogprob: -0.5, noSpeechProb: 0.9}}, []float64{0}, true},
		{"every temperature fails", slices.Repeat([]windowResult{{tokens: []int64{3}, avgLogprob: -3}}, 6), []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, true},
	} {
		f := &fakeDecoder{answer: func(j *windowJob, n int) windowResult { return c.results[n] }}
		out, err := testTranscriber(t, f).run(context.Background(), make([]float32, 10*16000), defaults())
		if err != nil {
			t.Fatal(err)
		}
		var temps []float64
		for _, j := range f.jobs {
			temps = append(temps, j.temperature)
			if j.temperature > 0 && j.beams != 1 {
				t.Errorf("%s: temperature %v decoded with %d beams; sampling is one row", c.name, j.temperature, j.beams)
			}
		}
		if !slices.Equal(temps, c.temps) {
			t.Errorf("%s: temperatures %v, want %v", c.name, temps, c.temps)
		}
		if kept := len(out.segments) > 0; kept != c.kept {
			t.Errorf("%s: kept %v, want %v", c.name, kept, c.kept)
		} else if kept && out.segments[0].temperature != c.temps[len(c.temps)-1] {
			t.Errorf("%s: segment temperature %v", c.name, out.segments[0].temperature)
		}
	}
}

// Compression ratios of text as zlib measures it: repetitive text
// compresses far better than varied text.
func TestCompressionRatio(t *testing.T) {
	rep := compressionRatio(strings.Repeat(" the cat", 40))
	varied := compressionRatio(" The quick brown fox jumps over the lazy dog.")
	if rep < 2.4 || varied > 1.2 || compressionRatio("") != 0 {
		t.Errorf("repetitive %.2f (want > 2.4), varied %.2f (want < 1.2)", rep, varied)
	}
}

// The prompt: previous text after <|startofprev|> (the last 223 tokens),
// the language and task, the prefix on the first window only; a language
// left empty is detected.
func TestPrompt(t *testing.T) {
	tr := testTranscriber(t, &fakeDecoder{})
	prev := make([]int64, 300)
	for i := range prev {
		prev[i] = int64(i)
	}
	o := defaults()
	o.translate = true
	j, err := tr.job(nil, prev, "w42 w43", "de", 0, o)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]int64{50362}, prev[77:]...), 50258, 50261, 50359, 42, 43)
	if !slices.Equal(j.prompt, want) || j.sotIndex != 224 || j.detect || j.rules.sampleBegin != len(want) || j.sampleLen != 448-len(want) {
		t.Errorf("prompt %v (sot at %d, detect %v, sample from %d, %d tokens)", j.prompt[220:], j.sotIndex, j.detect, j.rules.sampleBegin, j.sampleLen)
	}
	j, _ = tr.job(nil, nil, "", "", 0, defaults())
	if !j.detect || j.langPos != 1 || len(j.prompt) != 3 || j.prompt[2] != 50360 {
		t.Errorf("detecting: prompt %v, langPos %d, detect %v", j.prompt, j.langPos, j.detect)
	}
	tr.vocab.multilingual = false
	if j, _ = tr.job(nil, nil, "", "de", 0, o); !slices.Equal(j.prompt, []int64{50258}) || j.detect {
		t.Errorf("English-only: prompt %v; language and task must not enter it", j.prompt)
	}
}

// Language detection picks the likeliest language token and reports its
// probability among the language tokens, against a float64 softmax.
func TestPickLanguage(t *testing.T) {
	v := testVocab()
	row := make([]float32, 51866)
	for i := range row {
		row[i] = float32(math.Sin(float64(i))) * 3
	}
	row[50257] = 40 // a non-language token must not count
	row[50259], row[50260], row[50261] = 1.25, 2.5, -0.75
	lang, prob := v.pickLanguage(row)
	z := math.Exp(1.25) + math.Exp(2.5) + math.Exp(-0.75)
	if lang.code != "zh" || math.Abs(prob-math.Exp(2.5)/z) > 1e-12 {
		t.Errorf("picked %s with %v, want zh with %v", lang.code, prob, math.Exp(2.5)/z)
	}
}
