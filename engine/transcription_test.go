package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

const (
	legacyASR = "@cf/openai/whisper-tiny-en"
	turboASR  = "@cf/openai/whisper-large-v3-turbo"
)

func decodeASR(t *testing.T, model string, in Input) (*TranscriptionInput, error) {
	t.Helper()
	eng, err := New(mustCatalog(t), DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	_, v, err := eng.Decode(model, in)
	if err != nil {
		return nil, err
	}
	return v.(*TranscriptionInput), nil
}

func TestDecodeTranscriptionTakesEveryAudioForm(t *testing.T) {
	wav := []byte("RIFF\x24\x00\x00\x00WAVEfmt \xff\x00")
	var nums []string
	for _, b := range wav {
		nums = append(nums, strconv.Itoa(int(b)))
	}
	array := `{"audio":[` + strings.Join(nums, ", ") + `]}`
	b64 := base64.StdEncoding.EncodeToString(wav)
	tests := []struct {
		name, model string
		in          Input
	}{
		{"legacy raw body", legacyASR, Input{Binary: wav}},
		{"legacy uint8 array", legacyASR, Input{JSON: []byte(array)}},
		{"legacy integral floats", "@cf/openai/whisper", Input{JSON: []byte(`{"audio":[82.0,73,70,70,36,0,0,0,87,65,86,69,102,109,116,32,2.55e2,0]}`)}},
		{"turbo raw body", turboASR, Input{Binary: wav}},
		{"turbo base64", turboASR, Input{JSON: []byte(`{"audio":"` + b64 + `"}`)}},
		{"turbo data URL", turboASR, Input{JSON: []byte(`{"audio":"data:audio/wav;base64,` + b64 + `"}`)}},
		{"turbo body+contentType", turboASR, Input{JSON: []byte(`{"audio":{"body":"` + b64 + `","contentType":"audio/wav"}}`)}},
		{"turbo uint8 array", turboASR, Input{JSON: []byte(array)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := decodeASR(t, tc.model, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in.Audio, wav) {
				t.Fatalf("audio = %q, want %q", in.Audio, wav)
			}
			if in.Task != "transcribe" || in.Language != "" || !in.ConditionOnPreviousText || !in.WordTimestamps || in.BeamSize != 0 || in.VADFilter {
				t.Fatalf("defaults = %+v", in)
			}
		})
	}
}

func TestDecodeTranscriptionReadsTurboOptions(t *testing.T) {
	body := `{"audio":"UklGRg==","task":"translate","language":"de","vad_filter":true,"initial_prompt":"Glossary: Kubernetes",
		"prefix":"So","beam_size":5,"condition_on_previous_text":"false","no_speech_threshold":0.5,
		"compression_ratio_threshold":2,"log_prob_threshold":-0.5,"hallucination_silence_threshold":2}`
	in, err := decodeASR(t, turboASR, Input{JSON: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	if in.Task != "translate" || in.Language != "de" || !in.VADFilter || in.InitialPrompt != "Glossary: Kubernetes" || in.Prefix != "So" ||
		in.BeamSize != 5 || in.ConditionOnPreviousText || string(in.Audio) != "RIFF" {
		t.Fatalf("input = %+v", in)
	}
	for name, got := range map[string]*float64{"0.5": in.NoSpeechThreshold, "2": in.CompressionRatioThreshold,
		"-0.5": in.LogProbThreshold, "2.": in.HallucinationSilenceThreshold} {
		want, _ := strconv.ParseFloat(strings.TrimSuffix(name, "."), 64)
		if got == nil || *got != want {
			t.Errorf("threshold %s = %v", name, got)
		}
	}
	// The binding's stream variant: the audio is the body, the options JSON.
	in, err = decodeASR(t, turboASR, Input{Binary: []byte("OggS"), JSON: []byte(`{"language":"fr","beam_size":2}`)})
	if err != nil || string(in.Audio) != "OggS" || in.Language != "fr" || in.BeamSize != 2 {
		t.Fatalf("stream variant: %+v, %v", in, err)
	}
	// The legacy schema has no options: they are not read.
	in, err = decodeASR(t, legacyASR, Input{JSON: []byte(`{"audio":[1,2],"task":"nonsense","beam_size":99}`)})
	if err != nil || in.Task != "transcribe" || in.BeamSize != 0 {
		t.Fatalf("legacy options: %+v, %v", in, err)
	}
}

func TestDecodeTranscriptionRefusesBadInputNamingTheField(t *testing.T) {
	tests := []struct {
		name, model, body string
		kind              Kind
		field             string
	}{
		{"missing audio", legacyASR, `{}`, KindBadInput, "audio"},
		{"empty array", legacyASR, `{"audio":[]}`, KindBadInput, "audio"},
		{"over 255", legacyASR, `{"audio":[1,256,3]}`, KindBadInput, "audio[1]"},
		{"negative", legacyASR, `{"audio":[1,2,-1]}`, KindBadInput, "audio[2]"},
		{"fraction", legacyASR, `{"audio":[1.5]}`, KindBadInput, "audio[0]"},
		{"string item", legacyASR, `{"audio":[1,"2"]}`, KindBadInput, "audio[1]"},
		{"nested array", legacyASR, `{"audio":[1,[2]]}`, KindBadInput, "audio[1]"},
		{"audio a number", legacyASR, `{"audio":7}`, KindBadInput, "audio"},
		{"not base64", turboASR, `{"audio":"%%%"}`, KindBadInput, "audio"},
		{"empty base64", turboASR, `{"audio":""}`, KindBadInput, "audio"},
		{"body missing", turboASR, `{"audio":{"contentType":"audio/wav"}}`, KindBadInput, "audio.body"},
		{"bad task", turboASR, `{"audio":"UklGRg==","task":"summarize"}`, KindBadInput, "task"},
		{"language a number", turboASR, `{"audio":"UklGRg==","language":1}`, KindBadInput, "language"},
		{"beam 0", turboASR, `{"audio":"UklGRg==","beam_size":0}`, KindBadInput, "beam_size"},
		{"beam 11", turboASR, `{"audio":"UklGRg==","beam_size":11}`, KindBadInput, "beam_size"},
		{"beam 2.5", turboASR, `{"audio":"UklGRg==","beam_size":2.5}`, KindBadInput, "beam_size"},
		{"no speech 1.5", turboASR, `{"audio":"UklGRg==","no_speech_threshold":1.5}`, KindBadInput, "no_speech_threshold"},
		{"log prob a string", turboASR, `{"audio":"UklGRg==","log_prob_threshold":"low"}`, KindBadInput, "log_prob_threshold"},
		{"vad a number", turboASR, `{"audio":"UklGRg==","vad_filter":1}`, KindBadInput, "vad_filter"},
		{"prompt too long", turboASR, `{"audio":"UklGRg==","initial_prompt":"` + strings.Repeat("a", 5000) + `"}`, KindTooLarge, "initial_prompt"},
		{"not an object", turboASR, `[1,2]`, KindBadInput, "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeASR(t, tc.model, Input{JSON: []byte(tc.body)})
			var e *Error
			if !asError(err, &e) || e.Kind != tc.kind || e.Field != tc.field {
				t.Fatalf("err = %v, want kind %d on %q", err, tc.kind, tc.field)
			}
		})
	}
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}

func TestDecodeTranscriptionRefusesAudioOverTheLimit(t *testing.T) {
	big := make([]byte, MaxAudioBytes+1)
	if _, err := decodeASR(t, legacyASR, Input{Binary: big}); KindOf(err) != KindTooLarge {
		t.Fatalf("raw body: err = %v, want too large", err)
	}
	b64 := `{"audio":"` + base64.StdEncoding.EncodeToString(big) + `"}`
	if _, err := decodeASR(t, turboASR, Input{JSON: []byte(b64)}); KindOf(err) != KindTooLarge {
		t.Fatalf("base64: err = %v, want too large", err)
	}
	if _, err := decodeASR(t, legacyASR, Input{Binary: []byte{}}); KindOf(err) != KindBadInput {
		t.Fatalf("empty body: err = %v, want bad input", err)
	}
}

// fakeTranscriber answers every request with out, recording the input.
type fakeTranscriber struct {
	out *TranscriptionOutput
	got *TranscriptionInput
}

func (f *fakeTranscriber) Check(context.Context, ModelSpec) (Installation, error) {
	return Installation{Synthetic: true}, nil
}
func (f *fakeTranscriber) Load(context.Context, ModelSpec) (Model, error) { return f, nil }
func (f *fakeTranscriber) Close() error                                   { return nil }
func (f *fakeTranscriber) Transcribe(_ context.Context, in *TranscriptionInput) (*TranscriptionOutput, error) {
	f.got = in
	return f.out, nil
}

// twoSegments is a transcript with word timings in the first segment only.
func twoSegments() *TranscriptionOutput {
	return &TranscriptionOutput{Language: "en", LanguageProbability: 0.875, Duration: 3661.5, DurationAfterVAD: 3000,
		Text: " It is a good day. Yes it is.",
		Segments: []TranscriptionSegment{
			{ID: 0, Start: 0.56, End: 1.46, Text: " It is a good day.", Temperature: 0, AvgLogprob: -0.25, CompressionRatio: 1.5, NoSpeechProb: 0.125,
				Words: []TranscriptionWord{{" It", 0.56, 1}, {" is", 1, 1.1}, {" a", 1.1, 1.22}, {" good", 1.22, 1.32}, {" day.", 1.32, 1.46}}},
			{ID: 1, Start: 3660, End: 3661.2, Text: " Yes it is.", Temperature: 0.2, AvgLogprob: -0.5, CompressionRatio: 1.25, NoSpeechProb: 0.25},
		}}
}

func runASR(t *testing.T, model string, body string, out *TranscriptionOutput) (map[string]any, *fakeTranscriber) {
	t.Helper()
	fake := &fakeTranscriber{out: out}
	cfg := DefaultConfig()
	cfg.Home = t.TempDir()
	cfg.Models = map[string]ModelConfig{model: {Backend: "fake-asr"}}
	eng, err := New(mustCatalog(t), cfg, map[string]Backend{"fake-asr": fake}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	res, err := eng.Run(context.Background(), model, Input{JSON: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m, fake
}

func TestLegacyAnswerHasWorkersAIShape(t *testing.T) {
	m, fake := runASR(t, legacyASR, `{"audio":[1,2,3]}`, twoSegments())
	if !fake.got.WordTimestamps || string(fake.got.Audio) != "\x01\x02\x03" {
		t.Fatalf("backend got %+v", fake.got)
	}
	if len(m) != 4 || m["text"] != " It is a good day. Yes it is." || m["word_count"] != 8.0 {
		t.Fatalf("answer = %v", m)
	}
	words := m["words"].([]any)
	// The second segment has no word timings: its 8 letters spread over
	// 3660-3661.2 s, "Yes" taking 3, "it" 2, "is." 3.
	want := []struct {
		word       string
		start, end float64
	}{{" It", 0.56, 1}, {" is", 1, 1.1}, {" a", 1.1, 1.22}, {" good", 1.22, 1.32}, {" day.", 1.32, 1.46},
		{"Yes", 3660, 3660.45}, {"it", 3660.45, 3660.75}, {"is.", 3660.75, 3661.2}}
	if len(words) != len(want) {
		t.Fatalf("words = %v", words)
	}
	for i, w := range want {
		got := words[i].(map[string]any)
		if got["word"] != w.word || !near(got["start"].(float64), w.start) || !near(got["end"].(float64), w.end) {
			t.Errorf("word %d = %v, want %+v", i, got, w)
		}
	}
	vtt := m["vtt"].(string)
	if !strings.HasPrefix(vtt, "WEBVTT\n\n00:00:00.560 --> 00:00:01.000\nIt\n\n00:00:01.000 --> 00:00:01.100\nis\n\n") ||
		!strings.HasSuffix(vtt, "01:01:00.750 --> 01:01:01.200\nis.\n\n") || strings.Count(vtt, " --> ") != 8 {
		t.Fatalf("vtt = %q", vtt)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestTurboAnswerHasWorkersAIShape(t *testing.T) {
	m, fake := runASR(t, turboASR, `{"audio":"AQID","language":"en"}`, twoSegments())
	if fake.got.Language != "en" || string(fake.got.Audio) != "\x01\x02\x03" {
		t.Fatalf("backend got %+v", fake.got)
	}
	info := m["transcription_info"].(map[string]any)
	if info["language"] != "en" || info["language_probability"] != 0.875 || info["duration"] != 3661.5 || info["duration_after_vad"] != 3000.0 {
		t.Fatalf("transcription_info = %v", info)
	}
	if m["text"] != " It is a good day. Yes it is." || m["word_count"] != 8.0 {
		t.Fatalf("answer = %v", m)
	}
	segs := m["segments"].([]any)
	s1 := segs[1].(map[string]any)
	if len(segs) != 2 || s1["start"] != 3660.0 || s1["end"] != 3661.2 || s1["text"] != " Yes it is." || s1["temperature"] != 0.2 ||
		s1["avg_logprob"] != -0.5 || s1["compression_ratio"] != 1.25 || s1["no_speech_prob"] != 0.25 || len(s1["words"].([]any)) != 3 {
		t.Fatalf("segment 1 = %v", s1)
	}
	want := "WEBVTT\n\n00:00:00.560 --> 00:00:01.460\nIt is a good day.\n\n01:01:00.000 --> 01:01:01.200\nYes it is.\n\n"
	if m["vtt"] != want {
		t.Fatalf("vtt = %q, want %q", m["vtt"], want)
	}
}

func TestSRTNumbersCuesWithCommaMilliseconds(t *testing.T) {
	segs := []TranscriptionSegment{{Start: 0, End: 2.5, Text: " Hello."}, {Start: 2.5, End: 4, Text: "   "},
		{Start: 59.9996, End: 61, Text: " A --> B\n\nC"}}
	want := "1\n00:00:00,000 --> 00:00:02,500\nHello.\n\n2\n00:01:00,000 --> 00:01:01,000\nA -> B\nC\n\n"
	if got := SegmentsSRT(segs); got != want {
		t.Fatalf("srt = %q, want %q", got, want)
	}
	if got := SegmentsVTT(nil); got != "WEBVTT\n\n" {
		t.Fatalf("empty vtt = %q", got)
	}
}

func FuzzDecodeTranscription(f *testing.F) {
	f.Add([]byte(`{"audio":[1,2,3]}`), false)
	f.Add([]byte(`{"audio":"UklGRg==","beam_size":3,"task":"translate"}`), true)
	f.Add([]byte(`{"audio":{"body":[1e2, 0.0],"contentType":"x"}}`), true)
	f.Add([]byte(`{"audio":[ 1 , 2 ,3 ]}`), false)
	cat, err := LoadCatalog()
	if err != nil {
		f.Fatal(err)
	}
	legacy, _ := cat.Lookup(legacyASR)
	turbo, _ := cat.Lookup(turboASR)
	f.Fuzz(func(t *testing.T, raw []byte, isTurbo bool) {
		entry := legacy
		if isTurbo {
			entry = turbo
		}
		in, err := decodeTranscription(entry, nil, raw)
		if err != nil {
			if k := KindOf(err); k != KindBadInput && k != KindTooLarge {
				t.Fatalf("err kind %d: %v", k, err)
			}
			return
		}
		if len(in.Audio) == 0 {
			t.Fatal("accepted empty audio")
		}
	})
}
