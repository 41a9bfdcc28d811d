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
