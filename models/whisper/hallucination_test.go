package whisper

import (
	"context"
	"math"
	"slices"
	"testing"
)

// Anomaly scores as openai-whisper's word_anomaly_score and
// is_segment_anomaly define them, worked by hand.
func TestSegmentAnomaly(t *testing.T) {
	w := func(text string, start, end, p float64) word {
		return word{text: text, start: start, end: end, probability: p}
	}
	for _, tc := range []struct {
		name  string
		words []word
		want  bool
	}{
		{"probable words of ordinary length", []word{w(" a", 0, 0.4, 0.9), w(" b", 0.4, 0.8, 0.5)}, false},
		// One improbable word of two: score 1 < 2 - 0.01.
		{"one improbable word of two", []word{w(" a", 0, 0.4, 0.1), w(" b", 0.4, 0.8, 0.5)}, false},
		// Both improbable: 2 + 0.01 >= 2.
		{"every word improbable", []word{w(" a", 0, 0.4, 0.1), w(" b", 0.4, 0.8, 0.1)}, true},
		// 0.033 s: (0.133-0.033)*15 = 1.5 each, 3 in all.
		{"two very short words", []word{w(" a", 0, 0.033, 0.9), w(" b", 1, 1.033, 0.9), w(" c", 2, 2.5, 0.9), w(" d", 3, 3.5, 0.9)}, true},
		// 4.5 s: 2.5 over the 2 s limit, plus an improbable word: 3.5.
		{"a very long word", []word{w(" a", 0, 4.5, 0.9), w(" b", 5, 5.5, 0.1), w(" c", 6, 6.5, 0.9), w(" d", 7, 7.5, 0.9)}, true},
		// Punctuation is left out: " a" alone, improbable.
		{"punctuation does not count", []word{w(" a", 0, 0.4, 0.1), w(",", 0.4, 0.5, 0.9), w("", 0.5, 0.6, 0.9)}, true},
		// Only the first eight words count: eight probable words, then improbable ones.
		{"eight words at most", append(slices.Repeat([]word{w(" a", 0, 0.4, 0.9)}, 8), slices.Repeat([]word{w(" b", 0, 0.4, 0.01)}, 4)...), false},
	} {
		if got := isAnomaly(&segment{words: tc.words}); got != tc.want {
			t.Errorf("%s: isAnomaly = %v, want %v", tc.name, got, tc.want)
		}
	}
	if isAnomaly(nil) || isAnomaly(&segment{text: " no words"}) {
		t.Error("a missing segment or one without words is not an anomaly")
	}
}

// hallucinationDecoder scripts one 30 s window: four probable words
// (tokens 11-14) at 0-2 s, then two words (21, 22) at 20-22 s with
// probability p, ending on a single timestamp; any later window decodes
// token 31 at its first second.
func hallucinationDecoder(p float64) *fakeDecoder {
	at := map[int64]float64{11: 0.25, 12: 0.75, 13: 1.25, 14: 1.75, 21: 20.5, 22: 21.5, 31: 0.5} // seconds into the window
	return &fakeDecoder{answer: func(j *windowJob, n int) windowResult {
		if !j.align {
			if n == 0 {
				return windowResult{tokens: []int64{ts(0), 11, 12, 13, 14, ts(2), ts(20), 21, 22, ts(22)}, avgLogprob: -0.2}
			}
			return windowResult{tokens: []int64{ts(0), 31, ts(1)}, avgLogprob: -0.2}
		}
		return scriptedAlignment(j, at, func(next int64) float64 {
			if next == 21 || next == 22 {
				return p
			}
			return 0.9
		})
	}}
}

// scriptedAlignment answers a forced alignment pass (one head) with
// cross-attention peaked where each text token is said (at, in seconds
// into the window), the rows before the text at the start and those after
// it just past the last word, and each next token's probability.
func scriptedAlignment(j *windowJob, at map[int64]float64, prob func(next int64) float64) windowResult {
	end := 0.0
	for _, tok := range j.prompt {
		if sec, ok := at[tok]; ok {
			end = max(end, sec+0.5)
		}
	}
	var res windowResult
	for i := range j.prompt {
		row := make([]float32, 1500)
		sec := end
		if i+1 < len(j.prompt) {
			next := j.prompt[i+1]
			res.nextProbs = append(res.nextProbs, prob(next))
			if s, ok := at[next]; ok {
				sec = s
			} else if next != j.prompt[len(j.prompt)-1] {
				sec = 0
			}
		}
		peak(row, sec/0.02)
		res.attention = append(res.attention, row)
	}
	return res
}

// peak fills row with a normalized bump around position c.
func peak(row []float32, c float64) {
	var sum float64
	for k := range row {
		d := (float64(k) - c) / 8
		sum += math.Exp(-d * d / 2)
	}
	for k := range row {
		d := (float64(k) - c) / 8
		row[k] = float32(math.Exp(-d*d/2) / sum)
	}
}

// With hallucination_silence_threshold, a window is cut before an
// improbable segment that silence surrounds, and the next window starts at
// it; without the threshold, or with probable words, the segment stays.
func TestHallucinationSilenceThreshold(t *testing.T) {
	run := func(p float64, threshold *float64) (*transcript, *fakeDecoder) {
		t.Helper()
		f := hallucinationDecoder(p)
		tr := testTranscriber(t, f)
		tr.attention, tr.heads = true, 1
		o := defaults()
		o.wordTimestamps, o.hallucinationSilence = true, threshold
		out, err := tr.run(context.Background(), make([]float32, 30*16000), o)
		if err != nil {
			t.Fatal(err)
		}
		return out, f
	}
	texts := func(out *transcript) (s []string) {
		for _, seg := range out.segments {
			s = append(s, seg.text)
		}
		return s
	}

	plain, _ := run(0.01, nil)
	if got := texts(plain); !slices.Equal(got, []string{" w11 w12 w13 w14", " w21 w22"}) {
		t.Fatalf("without the threshold: segments %q", got)
	}
	suspect := plain.segments[1]
	for _, w := range suspect.words {
		if w.probability != 0.01 {
			t.Errorf("word %q has probability %v, want its tokens' 0.01", w.text, w.probability)
		}
	}
	if p := plain.segments[0].words[0].probability; p != 0.9 {
		t.Errorf("first word's probability %v, want 0.9", p)
	}
	if suspect.start < 19 || suspect.start > 21 {
		t.Fatalf("the suspect segment starts at %v s, want about 20", suspect.start)
	}

	cut, f := run(0.01, ptr(2))
	got := texts(cut)
	if !slices.Equal(got, []string{" w11 w12 w13 w14", " w31"}) {
		t.Fatalf("with threshold 2 s: segments %q, want the improbable one dropped", got)
	}
	if want := framesAt(suspect.start); cut.segments[1].seek != want {
		t.Errorf("the next window starts at frame %d, want the dropped segment's start %d", cut.segments[1].seek, want)
	}
	if decodes := len(f.jobs); decodes != 4 { // two windows, each decoded and aligned
		t.Errorf("%d jobs, want 4", decodes)
	}

	probable, _ := run(0.9, ptr(2))
	if got := texts(probable); !slices.Equal(got, []string{" w11 w12 w13 w14", " w21 w22"}) {
		t.Errorf("probable words with threshold 2 s: segments %q, want both kept", got)
	}
}
