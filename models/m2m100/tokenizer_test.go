package m2m100

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

func testTokenizer(t *testing.T, dir string) *tokenizer {
	t.Helper()
	tok, err := loadTokenizer(dir, vocabSize(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func vocabSize(t *testing.T, dir string) int {
	t.Helper()
	var cfg modelConfig
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg.VocabSize
}

// The synthetic vocab.json has 875 entries, so __en__ is 875+18. The piece
// ids are SentencePiece 0.1.97's segmentation (spm_encode) mapped through
// vocab.json; the synthetic tokenizer does not depend on the weight seed.
var encodeKnownAnswers = []struct {
	text string
	lang string
	ids  []int64
}{
	{"The translator reads the window and the garden.", "en",
		[]int64{893, 125, 191, 4, 297, 9, 35, 90, 282, 69, 41, 35, 84, 253, 14, 5, 2}},
	// Accents, and ¿ which the corpus has only at the start of a word.
	{"Où est le café ? ¿Dónde está el jardín?", "fr",
		[]int64{899, 181, 583, 187, 71, 184, 332, 4, 575, 418, 505, 117, 187, 74, 186, 356, 425, 21, 98, 2}},
	// CJK; the full-width ？ normalizes to ?.
	{"東京の小さなコンピューター、翻訳エンジン？", "ja",
		[]int64{917, 4, 725, 703, 478, 868, 686, 477, 479, 238, 701, 410, 698, 217, 475, 412, 695, 238, 696, 238, 98, 2}},
	// Hangul, emoji, digits.
	{"번역 엔진 🙂 🚀 42", "ko",
		[]int64{923, 407, 4, 767, 779, 4, 792, 4, 793, 331, 103, 2}},
	// Characters outside the vocabulary are <unk> (3); the unknown run カク
	// of ﾊﾝｶｸ (half-width katakana folds to full width) is one <unk>.
	{"Ωmega ☃ ﾊﾝｶｸ", "en",
		[]int64{893, 4, 3, 55, 6, 42, 7, 4, 3, 4, 3, 238, 3, 2}},
}

func TestEncodeKnownAnswers(t *testing.T) {
	tok := testTokenizer(t, tinyDir)
	if tok.langBase != 875 {
		t.Fatalf("language tokens start at %d; the synthetic vocab.json has 875 entries", tok.langBase)
	}
	for _, c := range encodeKnownAnswers {
		lang, err := resolveLanguage("source_lang", c.lang)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.encode(c.text, lang); !slices.Equal(got, c.ids) {
			t.Errorf("encode(%q, %s)\n got %v\nwant %v", c.text, c.lang, got, c.ids)
		}
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	tok := testTokenizer(t, tinyDir)
	for _, c := range encodeKnownAnswers {
		ids := c.ids[1 : len(c.ids)-1] // without __lang__ and </s>
		want := strings.TrimSpace(strings.ReplaceAll(tok.sp.Normalize(c.text), "▁", " "))
		if slices.Contains(ids, 3) {
			// <unk> pieces are special tokens: decoding skips them.
			var kept []int64
			for _, id := range ids {
				if id != 3 {
					kept = append(kept, id)
				}
			}
			ids = kept
			want = "mega  ン" // the spaces around the skipped ☃ and ハ stay
		}
		if got := tok.decode(ids); got != want {
			t.Errorf("decode(encode(%q)) = %q, want %q", c.text, got, want)
		}
	}
	// Language tokens, specials and made-up words are not text.
	text := tok.decode([]int64{tok.langID(24), 125, 0, 191, 2, tok.langBase + 100, 1, tok.langBase + 107})
	if text != "The translator" {
		t.Errorf("decode with special ids = %q, want %q", text, "The translator")
	}
}

func TestLanguageTokensAreComputedFromTheFiles(t *testing.T) {
	tok := testTokenizer(t, tinyDir)
	en, _ := resolveLanguage("target_lang", "en")
	if got, want := tok.langID(en), int64(len(tok.vocab)+18); got != want {
		t.Errorf("__en__ = %d, want len(vocab.json)+18 = %d", got, want)
	}
	if got, want := tok.langID(len(languages)-1), int64(vocabSize(t, tinyDir)-madeUpWords-1); got != want {
		t.Errorf("__zu__ = %d, want vocab_size-9 = %d", got, want)
	}

	// A tokenizer.json that agrees loads; one that puts __fr__ elsewhere
	// is refused.
	dir := copyDir(t, tinyDir)
	write := func(frID int64) {
		body := fmt.Sprintf(`{"added_tokens":[{"id":2,"content":"</s>"},{"id":%d,"content":"__en__"},{"id":%d,"content":"__fr__"}]}`,
			tok.langID(18), frID)
		if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(tok.langID(24))
	if _, err := loadTokenizer(dir, vocabSize(t, dir)); err != nil {
		t.Errorf("a consistent tokenizer.json was refused: %v", err)
	}
	write(tok.langID(24) + 1)
	if _, err := loadTokenizer(dir, vocabSize(t, dir)); err == nil || !strings.Contains(err.Error(), "__fr__") {
		t.Errorf("a tokenizer.json with __fr__ elsewhere: %v", err)
	}
	if _, err := loadTokenizer(tinyDir, vocabSize(t, tinyDir)+1); err == nil || !strings.Contains(err.Error(), "vocab_size") {
		t.Errorf("a vocab_size that the files do not fill: %v", err)
	}
}

func TestResolveLanguage(t *testing.T) {
	for _, c := range []struct {
		in   string
		code string
	}{
		{"fr", "fr"}, {"French", "fr"}, {"FRENCH", "fr"}, {" english ", "en"}, {"ZH", "zh"}, {"chinese", "zh"},
		{"ast", "ast"}, {"Scottish Gaelic", "gd"}, {"farsi", "fa"}, {"zu", "zu"},
	} {
		i, err := resolveLanguage("target_lang", c.in)
		if err != nil || languages[i].code != c.code {
			t.Errorf("resolveLanguage(%q) = %v (%v), want %s", c.in, languages[i].code, err, c.code)
		}
	}
	if len(languages) != 100 || languages[18].code != "en" || languages[24].code != "fr" || languages[98].code != "zh" {
		t.Errorf("the language table is out of fairseq's order")
	}
	_, err := resolveLanguage("target_lang", "klingon")
	if engine.KindOf(err) != engine.KindBadInput {
		t.Fatalf("klingon: %v, want a bad-input error", err)
	}
	msg := engine.Describe(err).Message
	for _, want := range []string{"'target_lang'", "klingon", "french", "af, am, ar", "zu"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}
