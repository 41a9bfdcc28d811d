package vad

import (
	"context"
	"math"
	"reflect"
	"testing"
)

// probs builds a probability sequence from runs: value, count, value, count…
func probs(runs ...float64) []float32 {
	var out []float32
	for i := 0; i < len(runs); i += 2 {
		for k := 0; k < int(runs[i+1]); k++ {
			out = append(out, float32(runs[i]))
		}
	}
	return out
}

// The expected chunks are worked out by hand from get_speech_timestamps'
// rules (window i starts at 512·i samples); each case says how.
func TestSpeechTimestamps(t *testing.T) {
	def := DefaultOptions()
	short := def
	short.MinSilenceDurationMS, short.SpeechPadMS = 100, 30
	shortWidePad := def
	shortWidePad.MinSilenceDurationMS = 100
	minSpeech := short
	minSpeech.MinSpeechDurationMS = 250
	maxSpeech := def
	maxSpeech.MaxSpeechDurationS, maxSpeech.SpeechPadMS = 1, 0

	for _, c := range []struct {
		name  string
		probs []float32
		n     int
		o     Options
		want  []Chunk
	}{
		// Speech 10–29, then silence: the end (15360) is final after 2 s;
		// the start pads to 0, the end by 6400.
		{"one burst", probs(0.1, 10, 0.9, 20, 0.1, 101), 130 * 512, def, []Chunk{{0, 21760}}},
		// A 1 s gap is under min_silence: one chunk from 5120 to the second
		// burst's end 40960.
		{"short gap joins", probs(0.1, 10, 0.9, 20, 0.1, 30, 0.9, 20, 0.1, 121), 200 * 512, def, []Chunk{{0, 47360}}},
		// A 3.2 s gap splits; the gap is over 2 pads, so each side pads 6400.
		{"long gap splits", probs(0.1, 10, 0.9, 20, 0.1, 100, 0.9, 20, 0.1, 151), 300 * 512, def, []Chunk{{0, 21760}, {60160, 83200}}},
		// min_silence 100 ms: bursts [1024, 5120) and [8192, 10752); pads of 480.
		{"short silence", probs(0, 2, 1, 8, 0, 6, 1, 5, 0, 11), 31 * 512, short, []Chunk{{544, 5600}, {7712, 11232}}},
		// The same with 400 ms pads: the 3072-sample gap is under 2 pads, so
		// the chunks meet in its middle (6656).
		{"pads meet halfway", probs(0, 2, 1, 8, 0, 6, 1, 5, 0, 11), 31 * 512, shortWidePad, []Chunk{{0, 6656}, {6656, 15872}}},
		// Between the thresholds (0.4): speech goes on, silence stays silence.
		{"hysteresis", probs(0.4, 3, 0.6, 4, 0.4, 10, 0.2, 10), 27 * 512, short, []Chunk{{1056, 9184}}},
		// A 2560-sample blip is under 250 ms (4000 samples): dropped.
		{"min speech", probs(0, 4, 1, 5, 0, 20), 29 * 512, minSpeech, nil},
		// Speech to the end: closed at the audio's end.
		{"open at end", probs(0, 4, 1, 10), 13*512 + 100, short, []Chunk{{1568, 6756}}},
		// max 1 s (15488 samples after the pad): 60 windows of speech with no
		// pause are cut at 15872, then at 32256 where the speech has stopped
		// for less than 98 ms.
		{"max speech, no pause", probs(1, 60, 0, 41), 100 * 512, maxSpeech, []Chunk{{0, 15872}, {16384, 32256}}},
		// With a 2560-sample pause (over 98 ms) at 10240, the cut goes there
		// and the next chunk starts where speech resumed (12800).
		{"max speech, at a pause", probs(1, 20, 0, 5, 1, 35, 0, 141), 200 * 512, maxSpeech, []Chunk{{0, 10240}, {12800, 28672}, {29184, 30720}}},
		{"silence", probs(0, 50), 49 * 512, def, nil},
		{"empty", nil, 0, def, nil},
	} {
		got := SpeechTimestamps(c.probs, c.n, c.o)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestTimeMap(t *testing.T) {
	chunks := []Chunk{{0, 21760}, {60160, 83200}}
	m := NewTimeMap(chunks)
	for _, c := range []struct {
		t     float64
		chunk int
		orig  float64
	}{
		{1.0, 0, 1.0},
		{1.36, 1, 3.76}, // exactly the first chunk's end: bisect_right moves on
		{1.5, 1, 3.9},
		{10, 1, 12.4}, // past the end: the last chunk
	} {
		k := m.ChunkIndex(c.t)
		if k != c.chunk || math.Abs(m.OriginalTime(c.t, k)-c.orig) > 1e-9 {
			t.Errorf("%v s: chunk %d at %v s, want %d at %v s", c.t, k, m.OriginalTime(c.t, k), c.chunk, c.orig)
		}
	}
	if got := Collect(make([]float32, 90000), chunks); len(got) != 21760+23040 {
		t.Errorf("collected %d samples", len(got))
	}
	if got := Collect(make([]float32, 10), nil); len(got) != 0 {
		t.Errorf("no chunks collected %d samples", len(got))
	}
}

// energyProber is speech wherever a window's RMS is over 0.01: a pure
// function of the audio, to test the speech/silence logic end to end.
type energyProber struct{}

func (energyProber) SpeechProbabilities(_ context.Context, s []float32) ([]float32, error) {
	out := make([]float32, Windows(len(s)))
	for i := range out {
		var sum float64
		for k := i * WindowSamples; k < (i+1)*WindowSamples && k < len(s); k++ {
			sum += float64(s[k]) * float64(s[k])
		}
		if math.Sqrt(sum/WindowSamples) > 0.01 {
			out[i] = 1
		}
	}
	return out, nil
}

func tone(s []float32, from, to int) {
	for k := from; k < to; k++ {
		s[k] = float32(0.5 * math.Sin(2*math.Pi*440*float64(k)/SampleRate))
	}
}

// TestSpeechWithEnergy: 1 s silence, 1 s tone, 3 s silence, 0.5 s tone,
// 1.5 s silence. The tones touch windows 31–62 and 156–171; the first
// ends at 32256 and pads to 38656; the second is still open at the end
// (1.5 s < 2 s of silence), so it runs to the audio's end.
func TestSpeechWithEnergy(t *testing.T) {
	s := make([]float32, 104000)
	tone(s, 16000, 32000)
	tone(s, 80000, 88000)
	chunks, err := Speech(context.Background(), energyProber{}, s, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := []Chunk{{9472, 38656}, {73472, 104000}}
	if !reflect.DeepEqual(chunks, want) {
		t.Fatalf("chunks %v, want %v", chunks, want)
	}
	speech := Collect(s, chunks)
	if after := float64(len(speech)) / SampleRate; math.Abs(after-3.732) > 1e-9 {
		t.Errorf("duration after VAD %v s, want 3.732", after)
	}
	// The second tone starts 80000-73472 samples into its chunk, which
	// begins 29184 samples into the collected audio.
	m := NewTimeMap(chunks)
	at := float64(29184+80000-73472) / SampleRate
	if got := m.OriginalTime(at, m.ChunkIndex(at)); got != 5 {
		t.Errorf("the second tone maps back to %v s, want 5", got)
	}
}
