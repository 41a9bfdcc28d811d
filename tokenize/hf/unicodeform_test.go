package hf

import (
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// Below the stream-safe limit the plain algorithm is Go's norm exactly.
func TestNormalizeUnboundedMatchesNorm(t *testing.T) {
	pool := []rune("aeoAEuUnNcCsSkK가각ᄀ하ᅡᆨ\u0300\u0301\u0302\u0303\u0308\u0316\u0323\u0327\u0345\u05b0\u0334\u3099\u309a\u1100\u1161\u11a8かカÅΩḱﬁ①ｶ")
	rng := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteRune(pool[rng.IntN(len(pool))])
		}
		s := b.String()
		for _, f := range []norm.Form{norm.NFC, norm.NFD, norm.NFKC, norm.NFKD} {
			if got, want := normalizeUnbounded(f, s), f.String(s); got != want {
				t.Fatalf("form %v of %+q: got %+q, want %+q", f, s, got, want)
			}
		}
	}
}

// Past 30 marks in a row nothing is inserted (Rust's unicode-normalization,
// which tokenizers uses, has no stream-safe limit).
func TestUnicodeFormNoJoiner(t *testing.T) {
	marks := strings.Repeat("\u0301", 40)
	if got, want := unicodeForm(norm.NFC)("a"+marks), "á"+marks[2:]; got != want {
		t.Errorf("NFC: got %+q, want %+q", got, want)
	}
	// Marks of two classes: dot below (220) sorts before acute (230), then
	// composes with e; no e-dot-below-acute exists, so the acutes stay.
	in := "e" + strings.Repeat("\u0301\u0323", 20)
	want := "\u1eb9" + strings.Repeat("\u0323", 19) + strings.Repeat("\u0301", 20)
	if got := unicodeForm(norm.NFC)(in); got != want {
		t.Errorf("NFC: got %+q, want %+q", got, want)
	}
	if got := unicodeForm(norm.NFD)(marks); got != marks {
		t.Errorf("NFD: got %+q", got)
	}
}
