package whisper

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// A word whose characters are split across byte-level tokens (CJK, emoji)
// is timed from the tokens' bytes joined, so it reads whole: no U+FFFD,
// and the words add up to the segment's text. Words split at spaces for
// English and at characters for Japanese.
func TestWordsJoinSplitCharacters(t *testing.T) {
	s, tok := loadFixture(t, true)
	codec := textTokenizer{tok: tok, eot: s.eot}
	const text = " 東京🙂👍🏽 ok"
	ids := codec.encode(text)
	split := 0
	for _, id := range ids {
		if !utf8.Valid(codec.bytes([]int64{id})) {
			split++
		}
	}
	if split == 0 {
		t.Fatalf("no token of %q (%v) cuts a character: the test needs one", text, ids)
	}
	at := map[int64]float64{}
	for k, id := range ids {
		at[id] = 0.3 + 0.2*float64(k)
	}
	window := append(append([]int64{s.timestampBegin}, ids...), s.timestampBegin+100)
	for _, tc := range []struct {
		lang string
		want []string // the words, trimmed
	}{
		{"en", []string{"東京🙂👍🏽", "ok"}},
		{"ja", nil}, // one word per character run the tokens allow
	} {
		f := &fakeDecoder{answer: func(j *windowJob, n int) windowResult {
			if j.align {
				return scriptedAlignment(j, at, func(int64) float64 { return 0.9 })
			}
			return windowResult{tokens: window, avgLogprob: -0.2}
		}}
		ex, err := testExtractor()
		if err != nil {
			t.Fatal(err)
		}
		tr := &transcriber{vocab: s, codec: codec, extractor: ex, positions: 1500, maxTarget: 448, submit: f.submit, attention: true, heads: 1}
		o := defaults()
		o.language, o.wordTimestamps = tc.lang, true
		out, err := tr.run(context.Background(), make([]float32, 3*16000), o)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.segments) != 1 || out.segments[0].text != text {
			t.Fatalf("%s: segments %+v", tc.lang, out.segments)
		}
		var joined strings.Builder
		var words []string
		for _, w := range out.segments[0].words {
			if strings.ContainsRune(w.text, utf8.RuneError) || !utf8.ValidString(w.text) {
				t.Errorf("%s: word %q is cut", tc.lang, w.text)
			}
			joined.WriteString(w.text)
			words = append(words, strings.TrimSpace(w.text))
		}
		if joined.String() != text {
			t.Errorf("%s: words %q join to %q, want %q", tc.lang, words, joined.String(), text)
		}
		if tc.want != nil && strings.Join(words, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: words %q, want %q", tc.lang, words, tc.want)
		}
		if tc.want == nil && len(words) < 4 {
			t.Errorf("%s: words %q: want the characters apart", tc.lang, words)
		}
	}
}
