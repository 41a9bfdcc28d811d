package whisper

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/synth"
	"github.com/edgeinfer/edgeinfer/tokenize/hf"
)

// realIDs are the ids of openai/whisper-tiny.en's and
// openai/whisper-large-v3(-turbo)'s files (openai-whisper's tokenizer.py
// numbering; the hub's generation_config.json).
var realIDs = map[bool]specialTokens{
	false: {eot: 50256, sot: 50257, translate: 50357, transcribe: 50358, sotLM: 50359, sotPrev: 50360,
		noSpeech: 50361, noTimestamps: 50362, timestampBegin: 50363},
	true: {eot: 50257, sot: 50258, translate: 50359, transcribe: 50360, sotLM: 50361, sotPrev: 50362,
		noSpeech: 50363, noTimestamps: 50364, timestampBegin: 50365},
}

// tokenFixture writes the synthetic tokenizer files and a
// generation_config.json in the hub's layout (edit changes it first).
func tokenFixture(t testing.TB, multilingual bool, edit func(map[string]any)) (string, *hf.Tokenizer) {
	t.Helper()
	files, err := synth.WhisperTokenizerFiles(multilingual, synth.Tiny)
	if err != nil {
		t.Fatal(err)
	}
	r := realIDs[multilingual]
	gen := map[string]any{
		"decoder_start_token_id": r.sot, "eos_token_id": r.eot, "no_timestamps_token_id": r.noTimestamps,
		"prev_sot_token_id": r.sotPrev, "is_multilingual": multilingual, "begin_suppress_tokens": []int64{220, r.eot},
	}
	if multilingual {
		langs := map[string]int64{}
		for i, lang := range engine.SpeechLanguages {
			langs["<|"+lang.Code+"|>"] = r.sot + 1 + int64(i)
		}
		gen["lang_to_id"] = langs
		gen["task_to_id"] = map[string]int64{"transcribe": r.transcribe, "translate": r.translate}
	}
	if edit != nil {
		edit(gen)
	}
	dir := t.TempDir()
	if files["generation_config.json"], err = json.Marshal(gen); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := hf.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, tok
}

func loadFixture(t testing.TB, multilingual bool) (*specialTokens, *hf.Tokenizer) {
	t.Helper()
	dir, tok := tokenFixture(t, multilingual, nil)
	s, err := loadSpecialTokens(dir, tok)
	if err != nil {
		t.Fatal(err)
	}
	return s, tok
}

func TestSpecialTokens(t *testing.T) {
	for _, ml := range []bool{false, true} {
		s, _ := loadFixture(t, ml)
		want := realIDs[ml]
		got := *s
		got.languages, got.byCode, got.multilingual = nil, nil, false
		if got.eot != want.eot || got.sot != want.sot || got.translate != want.translate || got.transcribe != want.transcribe ||
			got.sotLM != want.sotLM || got.sotPrev != want.sotPrev || got.noSpeech != want.noSpeech ||
			got.noTimestamps != want.noTimestamps || got.timestampBegin != want.timestampBegin {
			t.Errorf("multilingual %v: %+v, want %+v", ml, got, want)
		}
		if s.multilingual != ml {
			t.Errorf("multilingual %v: read as %v", ml, s.multilingual)
		}
		if !ml {
			continue
		}
		first, last := s.languages[0], s.languages[len(s.languages)-1]
		if len(s.languages) != 100 || first != (languageToken{"en", "english", 50259}) || last != (languageToken{"yue", "cantonese", 50358}) {
			t.Errorf("languages: %d, first %+v, last %+v", len(s.languages), first, last)
		}
		for _, l := range s.languages {
			if l.name == "" {
				t.Errorf("language %s has no name", l.code)
			}
		}
	}
}

// A generation_config.json whose ids disagree with the tokenizer is refused.
func TestSpecialTokensRefuseMismatches(t *testing.T) {
	for name, c := range map[string]struct {
		ml   bool
		edit func(map[string]any)
	}{
		"no_timestamps_token_id": {false, func(g map[string]any) { g["no_timestamps_token_id"] = 50363 }},
		"decoder_start_token_id": {true, func(g map[string]any) { g["decoder_start_token_id"] = 50257 }},
		"lang_to_id":             {true, func(g map[string]any) { g["lang_to_id"].(map[string]int64)["<|fr|>"] = 50259 }},
		"unknown language":       {true, func(g map[string]any) { g["lang_to_id"].(map[string]int64)["<|xx|>"] = 50300 }},
		"task_to_id":             {true, func(g map[string]any) { g["task_to_id"] = map[string]int64{"translate": 50360} }},
		"is_multilingual":        {false, func(g map[string]any) { g["is_multilingual"] = true }},
	} {
		dir, tok := tokenFixture(t, c.ml, c.edit)
		if _, err := loadSpecialTokens(dir, tok); err == nil || !strings.Contains(err.Error(), "generation_config.json") {
			t.Errorf("%s: error %v", name, err)
		}
	}
	dir, tok := tokenFixture(t, true, nil)
	os.Remove(filepath.Join(dir, "generation_config.json"))
	if _, err := loadSpecialTokens(dir, tok); err == nil {
		t.Error("a missing generation_config.json must be an error")
	}
}

func TestLanguageID(t *testing.T) {
	ml, _ := loadFixture(t, true)
	for in, want := range map[string]int64{"en": 50259, "EN": 50259, " English ": 50259, "zh": 50260, "yue": 50358, "Cantonese": 50358, "haw": 50352} {
		if id, err := ml.languageID(in); err != nil || id != want {
			t.Errorf("languageID(%q) = %d, %v; want %d", in, id, err, want)
		}
	}
	for _, in := range []string{"xx", "", "english!", "<|en|>"} {
		_, err := ml.languageID(in)
		var e *engine.Error
		if !errors.As(err, &e) || e.Kind != engine.KindBadInput || e.Field != "language" || !strings.Contains(e.Message, "en, zh, de") || !strings.Contains(e.Message, "yue") {
			t.Errorf("languageID(%q): %v, want a BadInput on language listing the codes", in, err)
		}
	}
	en, _ := loadFixture(t, false)
	for _, in := range []string{"", "en", "English"} {
		if id, err := en.languageID(in); err != nil || id != -1 {
			t.Errorf("English-only languageID(%q) = %d, %v", in, id, err)
		}
	}
	if _, err := en.languageID("fr"); err == nil || !strings.Contains(err.Error(), "English only") {
		t.Errorf("English-only languageID(fr): %v", err)
	}
}

// Prompts as faster-whisper's get_prompt lays them out, with the real ids.
func TestPromptLayout(t *testing.T) {
	ml, _ := loadFixture(t, true)
	en, _ := loadFixture(t, false)
	long := make([]int64, 300)
	for i := range long {
		long[i] = int64(i)
	}
	for _, c := range []struct {
		name string
		got  []int64
		want []int64
	}{
		{"multilingual, no timestamps", ml.prompt(nil, 50265, false, false, nil, 448), []int64{50258, 50265, 50360, 50364}},
		{"translate with timestamps", ml.prompt(nil, 50265, true, true, nil, 448), []int64{50258, 50265, 50359}},
		{"language to detect", ml.prompt(nil, -1, false, true, nil, 448), []int64{50258, 50360}},
		{"previous text", ml.prompt([]int64{7, 8}, 50259, false, false, nil, 448), []int64{50362, 7, 8, 50258, 50259, 50360, 50364}},
		{"prefix with timestamps", ml.prompt(nil, 50259, false, true, []int64{5, 6}, 448), []int64{50258, 50259, 50360, 50365, 5, 6}},
		{"prefix without", en.prompt(nil, -1, false, false, []int64{5}, 448), []int64{50257, 50362, 5}},
		{"English-only", en.prompt([]int64{9}, -1, true, true, nil, 448), []int64{50360, 9, 50257}},
		{"long previous text", ml.prompt(long, 50259, false, false, nil, 448), slices.Concat([]int64{50362}, long[300-223:], []int64{50258, 50259, 50360, 50364})},
		{"long prefix", en.prompt(nil, -1, false, false, long, 448), slices.Concat([]int64{50257, 50362}, long[:223])},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

// Each timestamp token stands for its name's time, and back.
func TestTimestamps(t *testing.T) {
	for _, ml := range []bool{false, true} {
		s, tok := loadFixture(t, ml)
		for i := range timestampTokens {
			sec := float64(i) * 0.02
			id, ok := tok.TokenID(fmt.Sprintf("<|%.2f|>", sec))
			if !ok || s.timestampToken(sec) != id || s.timestampToken(sec+0.009) != id || !s.isTimestamp(id) ||
				math.Abs(s.timestampSeconds(id)-sec) > 1e-9 {
				t.Fatalf("multilingual %v: %.2f s is %d (%v), timestampToken %d, seconds %v", ml, sec, id, ok, s.timestampToken(sec), s.timestampSeconds(id))
			}
		}
		if s.isTimestamp(s.noTimestamps) || s.isTimestamp(s.timestampBegin+timestampTokens) ||
			s.timestampToken(-3) != s.timestampBegin || s.timestampToken(31) != s.timestampBegin+1500 {
			t.Errorf("multilingual %v: timestamp bounds", ml)
		}
	}
}

var tokenTexts = []string{
	" Hello world.", " And so, my fellow Americans: ask not what your country can do for you.",
	" <|en|> spelled out <|0.00|>, <|endoftext|>", " 東京は晴れ。 Привет! 🙂👍🏽", "", "  \n\t ",
}

func TestTextTokenizer(t *testing.T) {
	for _, ml := range []bool{false, true} {
		s, tok := loadFixture(t, ml)
		tt := textTokenizer{tok: tok, eot: s.eot}
		for _, text := range tokenTexts {
			ids := tt.encode(text)
			if slices.ContainsFunc(ids, func(id int64) bool { return id < 0 || id >= s.eot }) {
				t.Errorf("encode(%q) = %v: a special token", text, ids)
			}
			framed := slices.Concat([]int64{s.sot, s.transcribe, s.timestampBegin}, ids, []int64{s.timestampBegin + 50, s.eot})
			if got := tt.decode(framed); got != text {
				t.Errorf("decode(encode(%q)) = %q", text, got)
			}
		}
	}
}

// FuzzWhisperText encodes arbitrary text and decodes arbitrary ids: text
// tokens only, valid UTF-8, and valid text back whole (from the ids' raw
// bytes joined, too).
func FuzzWhisperText(f *testing.F) {
	s, tok := loadFixture(f, true)
	tt := textTokenizer{tok: tok, eot: s.eot}
	for _, text := range tokenTexts {
		f.Add(text, []byte{1, 2, 0xff, 0xc3})
	}
	f.Fuzz(func(t *testing.T, text string, raw []byte) {
		ids := tt.encode(text)
		if slices.ContainsFunc(ids, func(id int64) bool { return id < 0 || id >= s.eot }) {
			t.Fatalf("encode(%q) = %v", text, ids)
		}
		if got := tt.decode(ids); utf8.ValidString(text) && got != text || !utf8.ValidString(got) {
			t.Fatalf("decode(encode(%q)) = %q", text, got)
		}
		var joined []byte
		for _, id := range ids {
			joined = append(joined, tt.bytes([]int64{id})...)
		}
		if utf8.ValidString(text) && string(joined) != text {
			t.Fatalf("the ids' bytes of %q join to %q", text, joined)
		}
		arbitrary := make([]int64, len(raw))
		for i, b := range raw {
			arbitrary[i] = int64(b)*211 - 300
		}
		if got := tt.decode(arbitrary); !utf8.ValidString(got) {
			t.Fatalf("decode(%v) = %q", arbitrary, got)
		}
	})
}
