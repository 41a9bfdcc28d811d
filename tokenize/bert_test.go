package tokenize

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// realBERT loads the real bert-base-uncased tokenizer.json (BGE's vocabulary)
// that the synth package ships.
func realBERT(t testing.TB) *BERT {
	t.Helper()
	f, err := os.Open("../models/synth/assets/bert-base-uncased-tokenizer.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBERT(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Expected ids are Hugging Face's (tokenizers, bert-base-uncased).
func TestBERTKnownAnswers(t *testing.T) {
	b := realBERT(t)
	tests := []struct {
		text string
		want []int64
	}{
		{"Hello, World!", []int64{101, 7592, 1010, 2088, 999, 102}},
		{"Explain quantum computing in simple terms", []int64{101, 4863, 8559, 9798, 1999, 3722, 3408, 102}},
		// Accents are stripped because strip_accents is null and lowercase is true.
		{"naïve café 東京 🙂", []int64{101, 15743, 7668, 1879, 1755, 100, 102}},
		{"NAÏVE", []int64{101, 15743, 102}},
		{"   \t\n ", []int64{101, 102}},
		{"", []int64{101, 102}},
	}
	for _, tt := range tests {
		got, n, truncated, err := b.Encode(tt.text, 512)
		if err != nil {
			t.Fatalf("%q: %v", tt.text, err)
		}
		if !slices.Equal(got, tt.want) || n != len(tt.want) || truncated {
			t.Errorf("Encode(%q) = %v (len %d, truncated %v), want %v", tt.text, got, n, truncated, tt.want)
		}
	}
}

func TestBERTTruncatesKeepingSpecialTokens(t *testing.T) {
	b := realBERT(t)
	text := strings.Repeat("hello ", 600)
	ids, full, truncated, err := b.Encode(text, 512)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 512 || full != 602 || !truncated || ids[0] != 101 || ids[511] != 102 || ids[510] != 7592 {
		t.Fatalf("len %d full %d truncated %v ends %v", len(ids), full, truncated, ids[509:])
	}
}

func TestBERTConcurrentUse(t *testing.T) {
	b := realBERT(t)
	want, _, _, _ := b.Encode("concurrency is not parallelism", 512)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				got, _, _, err := b.Encode("concurrency is not parallelism", 512)
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("concurrent encode gave %v, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkBERTEncode(b *testing.B) {
	tok := realBERT(b)
	text := "the quick brown fox jumps over the lazy dog while the government system told people about school"
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := tok.Encode(text, 512); err != nil {
			b.Fatal(err)
		}
	}
}

// The fast path must give exactly what sugarme's general pipeline gives,
// except where sugarme departs from Hugging Face (TestFastPathFollowsHF).
func TestFastPathMatchesSugarme(t *testing.T) {
	b := realBERT(t)
	if b.fast == nil {
		t.Fatal("the bert-base-uncased tokenizer.json should take the fast path")
	}
	texts := []string{
		"Hello, World!", "naïve café 東京 🙂", "Ünïcödé ÀÉÎÕÜ ñ ç ß ø å", "don't stop-believing... (ok?) $5+3=8 <tag> a^b `x` a|b ~",
		"tabs\tand\nnewlines\r\n and spaces", "zero\u200bwidth\u200djoiner \ufeffbom \u0000nul \ufffd",
		"Ｆｕｌｌ－ｗｉｄｔｈ ｆｏｒｍｓ", "한국어 텍스트", "Ελληνικά κείμενο", "русский текст", "עברית טקסט", "ﻋﺮﺑﻲ العربية",
		"supercalifragilisticexpialidocious antidisestablishmentarianism", strings.Repeat("x", 150) + " long word",
		"emoji 👩‍👩‍👧 🇫🇷 🙂🙂", "math ∑∫√ π≈3.14 ½ ²", "   ", "",
		"MiXeD CaSe WoRdS", "email@example.com https://example.com/path?q=1#frag", "İstanbul ǅ ﬁ ligature",
	}
	for _, text := range texts {
		want, _, _, err := b.encodeGeneral(text, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, _, _, _ := b.Encode(text, 0)
		if !slices.Equal(got, want) {
			t.Errorf("%q:\n fast    %v\n sugarme %v", text, got, want)
		}
	}
}

// Where sugarme departs from Hugging Face tokenizers, the fast path follows
// Hugging Face: special tokens in the text are matched before normalization,
// and every Unicode White_Space character (NBSP, em space) separates words.
func TestFastPathFollowsHF(t *testing.T) {
	b := realBERT(t)
	tests := []struct {
		text string
		want []int64
	}{
		{"[CLS] literal [SEP]", []int64{101, 101, 18204, 102, 102}},
		{"inside[PAD]text [MASK]", []int64{101, 2503, 0, 3793, 103, 102}},
		{"a\u00a0b\u2003c", []int64{101, 1037, 1038, 1039, 102}},
	}
	for _, tt := range tests {
		if got, _, _, _ := b.Encode(tt.text, 0); !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}
