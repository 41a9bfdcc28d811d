package hf

import (
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

// xlmrTiny is the synthetic XLM-RoBERTa tokenizer.json (models/synth keeps
// it current and checks it id for id against Hugging Face on the corpus).
func xlmrTiny(tb testing.TB) *Tokenizer {
	tb.Helper()
	raw, err := os.ReadFile("testdata/xlmr-tiny.tokenizer.json")
	if err != nil {
		tb.Fatal(err)
	}
	t, err := Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestParseRejects(t *testing.T) {
	for _, c := range []struct{ name, json, want string }{
		{"not json", `{`, "not a tokenizer.json"},
		{"no model", `{}`, "model: missing"},
		{"unknown model", `{"model":{"type":"WordLevel"}}`, `"WordLevel" is not supported`},
		{"bpe pending", `{"model":{"type":"BPE"}}`, "model"},
		{"empty unigram", `{"model":{"type":"Unigram","unk_id":0,"vocab":[]}}`, "empty vocabulary"},
		{"unk out of range", `{"model":{"type":"Unigram","unk_id":5,"vocab":[["a",-1]]}}`, "outside"},
		{"unknown normalizer", `{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",-1]]},"normalizer":{"type":"Fancy"}}`, `normalizer: type "Fancy"`},
		{"bad charsmap", `{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",-1]]},"normalizer":{"type":"Precompiled","precompiled_charsmap":"!!"}}`, "precompiled_charsmap"},
		{"lookahead regex", `{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",-1]]},"normalizer":{"type":"Replace","pattern":{"Regex":"a(?!b)"},"content":""}}`, "not supported"},
		{"unknown pre_tokenizer", `{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",-1]]},"pre_tokenizer":{"type":"Digits"}}`, `pre_tokenizer: type "Digits"`},
		{"unknown template token", `{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",-1]]},"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[X]"}}],"pair":[]}}`, `"[X]" has no id`},
	} {
		_, err := Parse([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Parse error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestEncodeContract(t *testing.T) {
	tok := xlmrTiny(t)
	bos, _ := tok.TokenID("<s>")
	eos, _ := tok.TokenID("</s>")
	if pad, ok := tok.TokenID("<pad>"); !ok || tok.PadID() != pad {
		t.Errorf("PadID %d, <pad> is %d", tok.PadID(), pad)
	}
	text := strings.Repeat("Le modèle lit la question, puis chaque passage. ", 20)
	all, full, truncated, err := tok.Encode(text, 0)
	if err != nil || truncated || full != len(all) || all[0] != bos || all[len(all)-1] != eos {
		t.Fatalf("Encode: %d ids, full %d, truncated %v, err %v", len(all), full, truncated, err)
	}
	for _, limit := range []int{2, 3, 17, full - 1, full, full + 1} {
		ids, f, tr, err := tok.Encode(text, limit)
		if err != nil {
			t.Fatal(err)
		}
		want := append(slices.Clone(all[:min(limit, full)-1]), eos)
		if limit >= full {
			want = all
		}
		if f != full || tr != (limit < full) || !slices.Equal(ids, want) {
			t.Errorf("limit %d: %d ids (truncated %v, full %d), want the first %d content ids and </s>", limit, len(ids), tr, f, len(want)-2)
		}
	}
	if _, _, _, err := tok.Encode(text, 1); err == nil {
		t.Error("a limit below the special tokens must be an error")
	}
	if _, _, _, err := tok.EncodePair("a", "b", 3); err == nil {
		t.Error("a pair limit below the four special tokens must be an error")
	}
	// The pair template is <s> A </s></s> B </s>.
	a, _, _, _ := tok.Encode("question", 0)
	b, _, _, _ := tok.Encode("passage", 0)
	pair, _, _, _ := tok.EncodePair("question", "passage", 0)
	if want := slices.Concat(a, b[1:]); len(a) < 3 || !slices.Equal(pair, slices.Insert(want, len(a)-1, eos)) {
		t.Errorf("pair %v, singles %v and %v", pair, a, b)
	}
}

func TestLongestFirst(t *testing.T) {
	// Cases of tokenizers' truncate_encodings (LongestFirst), by hand.
	for _, c := range []struct{ n1, n2, budget, w1, w2 int }{
		{3, 100, 10, 3, 7}, // the shorter fits: the longer takes the rest
		{100, 3, 10, 7, 3}, // same, swapped
		{50, 60, 10, 5, 5}, // both cut to half
		{50, 60, 11, 5, 6}, // the odd token goes to the longer (second)
		{60, 50, 11, 6, 5}, // ... or the first when it is the longer
		{20, 20, 0, 0, 0},  // nothing left
		{12, 30, 11, 5, 6}, // the shorter alone exceeds the budget
	} {
		if g1, g2 := longestFirst(c.n1, c.n2, c.budget); g1 != c.w1 || g2 != c.w2 {
			t.Errorf("longestFirst(%d, %d, %d) = %d, %d, want %d, %d", c.n1, c.n2, c.budget, g1, g2, c.w1, c.w2)
		}
	}
}

func TestInvalidUTF8ReadsAsReplacement(t *testing.T) {
	tok := xlmrTiny(t)
	got, _, _, _ := tok.Encode("caf\xc3 \xff\xfe ok", 0)
	want, _, _, _ := tok.Encode("caf\uFFFD \uFFFD\uFFFD ok", 0)
	if !slices.Equal(got, want) {
		t.Errorf("invalid UTF-8 %v, with U+FFFD per byte %v", got, want)
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok := xlmrTiny(t)
	texts := []string{"hello world", "東京は晴れ 🙂", "¿Dónde está?", strings.Repeat("ab ", 200)}
	want := make([][]int64, len(texts))
	for i, s := range texts {
		want[i], _, _, _ = tok.Encode(s, 0)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 50 {
				i := (g + k) % len(texts)
				if got, _, _, _ := tok.Encode(texts[i], 0); !slices.Equal(got, want[i]) {
					t.Errorf("concurrent Encode(%q) differs", texts[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}
