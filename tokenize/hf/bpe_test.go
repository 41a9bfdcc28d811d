package hf

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// bpeJSON writes a BPE model section; extra holds further fields.
func bpeJSON(t testing.TB, vocab []string, merges any, extra map[string]any) json.RawMessage {
	t.Helper()
	v := map[string]int{}
	for i, tok := range vocab {
		v[tok] = i
	}
	m := map[string]any{"type": "BPE", "dropout": nil, "vocab": v, "merges": merges}
	for k, x := range extra {
		m[k] = x
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func mustBPE(t testing.TB, raw json.RawMessage) *bpe {
	t.Helper()
	m, err := newBPE(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*bpe)
}

// tokens spells ids with vocab, for readable failures.
func tokens(vocab []string, ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = vocab[id]
	}
	return out
}

// Hand-checked merge orders: the lowest rank first wherever it is, the
// leftmost pair among equal ranks, merged tokens merging again.
func TestBPEMergeOrder(t *testing.T) {
	vocab := []string{"a", "b", "c", "ab", "bc", "abc", "aa", "aaaa"}
	cases := []struct {
		merges []string
		word   string
		want   []string
	}{
		{[]string{"a b", "b c", "ab c"}, "abc", []string{"abc"}},
		{[]string{"b c", "a b", "ab c"}, "abc", []string{"a", "bc"}}, // "b c" outranks "a b"
		{[]string{"a a"}, "aaa", []string{"aa", "a"}},                // leftmost of a tie
		{[]string{"a a"}, "aaaa", []string{"aa", "aa"}},
		{[]string{"a a", "aa aa"}, "aaaaa", []string{"aaaa", "a"}},
		{[]string{"a b"}, "cab", []string{"c", "ab"}},
		{nil, "abc", []string{"a", "b", "c"}},
	}
	for _, c := range cases {
		for _, linearMax := range []int{bpeLinearMax, 0} { // scan and heap
			m := mustBPE(t, bpeJSON(t, vocab, c.merges, nil))
			got := m.encodeWord(new(bpeScratch), c.word, linearMax)
			ids := make([]int64, len(got))
			for i, id := range got {
				ids[i] = int64(id)
			}
			if toks := tokens(vocab, ids); !slices.Equal(toks, c.want) {
				t.Errorf("merges %q, %q (linearMax %d): got %q, want %q", c.merges, c.word, linearMax, toks, c.want)
			}
		}
	}
}

// Both merge-list formats load the same model.
func TestBPEMergeFormats(t *testing.T) {
	vocab := []string{"a", "b", "c", "ab", "bc", "abc"}
	str := mustBPE(t, bpeJSON(t, vocab, []string{"b c", "a bc"}, nil))
	arr := mustBPE(t, bpeJSON(t, vocab, [][]string{{"b", "c"}, {"a", "bc"}}, nil))
	for _, w := range []string{"abc", "cab", "bcab", "abcabc"} {
		a, b := str.appendIDs(nil, w), arr.appendIDs(nil, w)
		if !slices.Equal(a, b) {
			t.Errorf("%q: string merges give %v, array merges %v", w, a, b)
		}
	}
	if got := tokens(vocab, str.appendIDs(nil, "abc")); !slices.Equal(got, []string{"abc"}) {
		t.Errorf("abc: got %q", got)
	}
}

func TestBPEUnknownCharacters(t *testing.T) {
	vocab := []string{"<unk>", "a", "b", "ab"}
	for b := range 256 {
		if b != 0xA9 { // "é" is C3 A9: its second byte piece is missing
			vocab = append(vocab, fmt.Sprintf("<0x%02X>", b))
		}
	}
	merges := []string{"a b"}
	id := func(tok string) int64 { return int64(slices.Index(vocab, tok)) }
	cases := []struct {
		name  string
		extra map[string]any
		word  string
		want  []int64
	}{
		{"byte fallback", map[string]any{"byte_fallback": true, "unk_token": "<unk>"}, "aü",
			[]int64{id("a"), id("<0xC3>"), id("<0xBC>")}},
		{"byte fallback, a byte missing", map[string]any{"byte_fallback": true, "unk_token": "<unk>"}, "éab",
			[]int64{id("<unk>"), id("ab")}},
		{"unk", map[string]any{"unk_token": "<unk>"}, "xyab", []int64{id("<unk>"), id("<unk>"), id("ab")}},
		{"fused unk", map[string]any{"unk_token": "<unk>", "fuse_unk": true}, "xyaz",
			[]int64{id("<unk>"), id("a"), id("<unk>")}},
		{"no unk: dropped", nil, "xaby", []int64{id("ab")}},
		{"merges stop at unk", map[string]any{"unk_token": "<unk>"}, "axb", []int64{id("a"), id("<unk>"), id("b")}},
	}
	for _, c := range cases {
		m := mustBPE(t, bpeJSON(t, vocab, merges, c.extra))
		if got := m.appendIDs(nil, c.word); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q gives %v, want %v", c.name, c.word, got, c.want)
		}
	}
}

func TestBPEIgnoreMerges(t *testing.T) {
	vocab := []string{"a", "b", "c", "ab", "abc"}
	for _, c := range []struct {
		ignore bool
		want   []string
	}{{false, []string{"ab", "c"}}, {true, []string{"abc"}}} {
		m := mustBPE(t, bpeJSON(t, vocab, []string{"a b"}, map[string]any{"ignore_merges": c.ignore}))
		if got := tokens(vocab, m.appendIDs(nil, "abc")); !slices.Equal(got, c.want) {
			t.Errorf("ignore_merges %v: got %q, want %q", c.ignore, got, c.want)
		}
	}
}

func TestBPEErrors(t *testing.T) {
	vocab := []string{"a", "b", "ab"}
	cases := map[string]json.RawMessage{
		"merge side not in vocab":   bpeJSON(t, vocab, []string{"a c"}, nil),
		"merge result not in vocab": bpeJSON(t, vocab, []string{"b a"}, nil),
		"merge not two tokens":      bpeJSON(t, vocab, []string{"a b c"}, nil),
		"merge pair of three":       bpeJSON(t, vocab, [][]string{{"a", "b", "c"}}, nil),
		"merges not a list":         bpeJSON(t, vocab, "a b", nil),
		"unk not in vocab":          bpeJSON(t, vocab, nil, map[string]any{"unk_token": "<unk>"}),
		"subword prefix":            bpeJSON(t, vocab, nil, map[string]any{"continuing_subword_prefix": "##"}),
		"word suffix":               bpeJSON(t, vocab, nil, map[string]any{"end_of_word_suffix": "</w>"}),
		"empty vocab":               json.RawMessage(`{"type":"BPE","vocab":{},"merges":[]}`),
		"negative id":               json.RawMessage(`{"type":"BPE","vocab":{"a":-1},"merges":[]}`),
		"not an object":             json.RawMessage(`[1,2]`),
		"wrong type":                json.RawMessage(`{"type":"Unigram","vocab":{"a":0}}`),
	}
	for name, raw := range cases {
		if _, err := newBPE(raw); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Empty prefix and suffix, as Qwen's file writes them, are fine.
	if _, err := newBPE(bpeJSON(t, vocab, []string{"a b"}, map[string]any{"continuing_subword_prefix": "", "end_of_word_suffix": ""})); err != nil {
		t.Error(err)
	}
}

// naiveBPE is the textbook loop: find the lowest-ranked adjacent pair
// (leftmost on a tie), merge it, start over.
func naiveBPE(ranks map[[2]string]int, word []string) []string {
	word = slices.Clone(word)
	for {
		best, at := -1, -1
		for i := 0; i+1 < len(word); i++ {
			if r, ok := ranks[[2]string{word[i], word[i+1]}]; ok && (best < 0 || r < best) {
				best, at = r, i
			}
		}
		if at < 0 {
			return word
		}
		word = slices.Replace(word, at, at+2, word[at]+word[at+1])
	}
}

// randomBPE learns merges of random strings over a small alphabet, in a
// shuffled rank order so later merges can outrank earlier ones' parts.
func randomBPE(rng *rand.Rand) (vocab []string, merges [][2]string) {
	alphabet := []string{"a", "b", "c", "d", "é"}
	vocab = append(vocab, alphabet...)
	seen := map[string]bool{}
	for _, a := range alphabet {
		seen[a] = true
	}
	for len(merges) < 60 {
		l := vocab[rng.IntN(len(vocab))]
		r := vocab[rng.IntN(len(vocab))]
		if seen[l+r] || len(l+r) > 12 {
			continue
		}
		seen[l+r] = true
		vocab = append(vocab, l+r)
		merges = append(merges, [2]string{l, r})
	}
	rng.Shuffle(len(merges), func(i, j int) { merges[i], merges[j] = merges[j], merges[i] })
	return vocab, merges
}

// The scan and the heap agree with the textbook loop on random merge tables
// and words, short and long.
func TestBPEMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 30 {
		vocab, merges := randomBPE(rng)
		ranks := map[[2]string]int{}
		list := make([][]string, len(merges))
		for i, mg := range merges {
			ranks[mg] = i
			list[i] = []string{mg[0], mg[1]}
		}
		m := mustBPE(t, bpeJSON(t, vocab, list, nil))
		for range 40 {
			n := 1 + rng.IntN(120)
			chars := make([]string, n)
			for i := range chars {
				chars[i] = vocab[rng.IntN(5)]
			}
			want := naiveBPE(ranks, chars)
			word := strings.Join(chars, "")
			for _, linearMax := range []int{1 << 30, 0} {
				got := m.encodeWord(new(bpeScratch), word, linearMax)
				toks := make([]string, len(got))
				for i, id := range got {
					toks[i] = vocab[id]
				}
				if !slices.Equal(toks, want) {
					t.Fatalf("round %d, %q (linearMax %d): got %q, want %q", round, word, linearMax, toks, want)
				}
			}
		}
	}
}

// Concurrent encoders sharing the cache get what one encoder gets.
func TestBPEConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vocab, merges := randomBPE(rng)
	list := make([][]string, len(merges))
	for i, mg := range merges {
		list[i] = []string{mg[0], mg[1]}
	}
	raw := bpeJSON(t, vocab, list, nil)
	words := make([]string, 200)
	for i := range words {
		var b strings.Builder
		for range 1 + rng.IntN(40) {
			b.WriteString(vocab[rng.IntN(5)])
		}
		words[i] = b.String()
	}
	fresh := mustBPE(t, raw)
	want := make([][]int64, len(words))
	for i, w := range words {
		want[i] = fresh.appendIDs(nil, w)
	}
	shared := mustBPE(t, raw)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 3 * len(words) {
				i := (k*7 + g*13) % len(words)
				if got := shared.appendIDs(nil, words[i]); !slices.Equal(got, want[i]) {
					errs <- fmt.Sprintf("%q: got %v, want %v", words[i], got, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
