package synth

import (
	_ "embed"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// m2m100Corpus is a small multilingual text (Latin with accents, Cyrillic,
// Greek, Arabic, Hebrew, Indic, Thai, CJK, Hangul, emoji) that the synthetic
// tokenizer learns its characters and merges from.
//
//go:embed assets/m2m100/corpus.txt
var m2m100Corpus string

// Special pieces, at the ids fairseq gives them in vocab.json (and that the
// synthetic sentencepiece.bpe.model uses too).
const (
	m2m100BOS = "<s>"
	m2m100Pad = "<pad>"
	m2m100EOS = "</s>"
	m2m100Unk = "<unk>"
)

// m2m100WordBoundary is SentencePiece's meta symbol for a space (U+2581).
const m2m100WordBoundary = "▁"

// m2m100MaxPieceRunes is SentencePiece's default max_sentencepiece_length.
const m2m100MaxPieceRunes = 16

// m2m100FullDictSize is len(vocab.json) of the real M2M100 checkpoints.
const m2m100FullDictSize = 128004

// m2m100VocabSeed fixes the generated filler pieces. The tokenizer does not
// depend on the weight seed, as a real model's tokenizer is fixed.
const m2m100VocabSeed = 0x6d326d

// m2m100Vocab is the synthetic tokenizer inventory.
type m2m100Vocab struct {
	// pieces in SentencePiece order: the four specials, then merged pieces
	// by merge rank, then single characters by frequency, as the BPE
	// trainer emits them. A piece's score is minus its rank among the
	// non-special pieces, so earlier merges win when encoding.
	pieces []string
	// dict is vocab.json's order (fairseq's dictionary): the specials, then
	// pieces by how often they occur when the corpus is encoded, so ids
	// differ from SentencePiece ids as they do in the real files.
	dict []string
}

// m2m100NormalizeLine applies what SentencePiece's nmt_nfkc normalizer does
// to ordinary text: NFKC, then whitespace trimmed and runs collapsed.
func m2m100NormalizeLine(s string) string {
	return strings.Join(strings.Fields(norm.NFKC.String(s)), " ")
}

// m2m100Vocabs memoizes newM2M100Vocab by size: the inventory depends only
// on the embedded corpus, and training it is the slow part of a tiny run.
var m2m100Vocabs sync.Map // int → *m2m100Vocab

// newM2M100Vocab learns merges from the corpus and, when size is larger
// than what the corpus yields, pads with generated merge pieces up to size
// entries (vocab.json and the model hold the same pieces). size 0 keeps the
// corpus inventory. The result is shared: callers must not modify it.
func newM2M100Vocab(size int) (*m2m100Vocab, error) {
	if v, ok := m2m100Vocabs.Load(size); ok {
		return v.(*m2m100Vocab), nil
	}
	v, err := buildM2M100Vocab(size)
	if err != nil {
		return nil, err
	}
	m2m100Vocabs.Store(size, v)
	return v, nil
}

func buildM2M100Vocab(size int) (*m2m100Vocab, error) {
	words := m2m100Words(m2m100Corpus)
	merges, chars := m2m100TrainBPE(words)
	specials := []string{m2m100BOS, m2m100Pad, m2m100EOS, m2m100Unk}
	corpusSize := len(specials) + len(merges) + len(chars)
	if size == 0 {
		size = corpusSize
	}
	if size < corpusSize {
		return nil, fmt.Errorf("m2m100 vocab: %d pieces asked, the corpus alone needs %d", size, corpusSize)
	}
	filler := m2m100FillerPieces(merges, chars, size-corpusSize)

	v := &m2m100Vocab{pieces: slices.Concat(specials, merges, filler, chars)}
	v.dict = v.frequencyOrder(words, len(specials))
	return v, nil
}

// m2m100Words splits normalized text into SentencePiece words (each starts
// with the word boundary, as add_dummy_prefix and whitespace escaping make
// them) with their counts.
func m2m100Words(text string) map[string]int {
	words := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		for _, w := range strings.Fields(m2m100NormalizeLine(line)) {
			words[m2m100WordBoundary+w]++
		}
	}
	return words
}

// m2m100TrainBPE is SentencePiece's BPE training in miniature: start from
// characters and repeatedly merge the most frequent adjacent pair that forms
// a valid piece, until no pair occurs twice. Ties go to the smaller string,
// so the result is deterministic.
func m2m100TrainBPE(words map[string]int) (merges, chars []string) {
	type word struct {
		syms []string
		freq int
	}
	keys := make([]string, 0, len(words))
	for w := range words {
		keys = append(keys, w)
	}
	slices.Sort(keys)
	ws := make([]word, len(keys))
	charFreq := map[string]int{}
	for i, k := range keys {
		for _, r := range k {
			ws[i].syms = append(ws[i].syms, string(r))
			charFreq[string(r)] += words[k]
		}
		ws[i].freq = words[k]
	}
	for c := range charFreq {
		chars = append(chars, c)
	}
	slices.SortFunc(chars, func(a, b string) int {
		if charFreq[a] != charFreq[b] {
			return charFreq[b] - charFreq[a]
		}
		return strings.Compare(a, b)
	})

	have := map[string]bool{}
	for _, c := range chars {
		have[c] = true
	}
	for {
		pairs := map[[2]string]int{}
		for _, w := range ws {
			for i := 0; i+1 < len(w.syms); i++ {
				if m2m100ValidPiece(w.syms[i] + w.syms[i+1]) {
					pairs[[2]string{w.syms[i], w.syms[i+1]}] += w.freq
				}
			}
		}
		var best [2]string
		bestN := 1 // a merge must occur at least twice
		for p, n := range pairs {
			if n > bestN || (n == bestN && n > 1 && m2m100PairLess(p, best)) {
				best, bestN = p, n
			}
		}
		if bestN < 2 {
			return merges, chars
		}
		merged := best[0] + best[1]
		if !have[merged] {
			have[merged] = true
			merges = append(merges, merged)
		}
		for i := range ws {
			ws[i].syms = m2m100MergePair(ws[i].syms, best)
		}
	}
}

func m2m100PairLess(a, b [2]string) bool {
	if c := strings.Compare(a[0]+a[1], b[0]+b[1]); c != 0 {
		return c < 0
	}
	return a[0] < b[0]
}

func m2m100MergePair(syms []string, p [2]string) []string {
	out := syms[:0]
	for i := 0; i < len(syms); i++ {
		if i+1 < len(syms) && syms[i] == p[0] && syms[i+1] == p[1] {
			out = append(out, p[0]+p[1])
			i++
			continue
		}
		out = append(out, syms[i])
	}
	return out
}

// m2m100ValidPiece applies the SentencePiece trainer's piece rules with its
// default options: at most 16 characters, the word boundary only in front,
// and no mixing of scripts (Han, Hiragana and Katakana count as one, digits
// as their own, so split_by_number holds).
func m2m100ValidPiece(p string) bool {
	if utf8.RuneCountInString(p) > m2m100MaxPieceRunes {
		return false
	}
	body := strings.TrimPrefix(p, m2m100WordBoundary)
	if strings.Contains(body, m2m100WordBoundary) {
		return false
	}
	script := ""
	for _, r := range body {
		s := m2m100Script(r)
		if script != "" && s != script {
			return false
		}
		script = s
	}
	return true
}

// m2m100Scripts are the scripts the corpus uses; anything else (punctuation,
// symbols, emoji) is "Common", which SentencePiece also keeps apart.
var m2m100Scripts = []struct {
	name  string
	table *unicode.RangeTable
}{
	{"Latin", unicode.Latin}, {"Greek", unicode.Greek}, {"Cyrillic", unicode.Cyrillic},
	{"Arabic", unicode.Arabic}, {"Hebrew", unicode.Hebrew}, {"Devanagari", unicode.Devanagari},
	{"Bengali", unicode.Bengali}, {"Thai", unicode.Thai}, {"Hangul", unicode.Hangul},
	{"Han", unicode.Han}, {"Han", unicode.Hiragana}, {"Han", unicode.Katakana},
}

func m2m100Script(r rune) string {
	if unicode.IsDigit(r) {
		return "Digit"
	}
	if r == 'ー' { // the Katakana length mark is Common in Unicode, Han to SentencePiece
		return "Han"
	}
	for _, s := range m2m100Scripts {
		if unicode.Is(s.table, r) {
			return s.name
		}
	}
	return "Common"
}

// m2m100FillerPieces generates n more merge pieces, so a full-size vocab has
// the real entry count: each joins a short piece with a same-script
// continuation piece learned from the corpus, the way deeper BPE merges
// extend words. They are valid, unique and reachable by encoding, though
// rarely hit by real text; their lengths (at most 6 characters) keep the
// files near the real ones' sizes.
func m2m100FillerPieces(merges, chars []string, n int) []string {
	const maxHeadRunes, maxRunes = 4, 6
	if n == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(m2m100VocabSeed, uint64(n)))
	have := map[string]bool{}
	heads := map[string][]string{} // by script: short pieces a filler may start with
	tails := map[string][]string{} // by script: corpus pieces without the word boundary
	var scripts []string
	add := func(p string, corpus bool) {
		have[p] = true
		body := strings.TrimPrefix(p, m2m100WordBoundary)
		r, _ := utf8.DecodeRuneInString(body)
		s := m2m100Script(r)
		if body == "" || s == "Common" || s == "Digit" {
			return // punctuation and number runs would make implausible pieces
		}
		if _, ok := heads[s]; !ok {
			scripts = append(scripts, s)
		}
		if utf8.RuneCountInString(p) <= maxHeadRunes {
			heads[s] = append(heads[s], p)
		}
		if corpus && body == p && strings.IndexFunc(p, unicode.IsUpper) < 0 {
			tails[s] = append(tails[s], p)
		}
	}
	for _, p := range slices.Concat(merges, chars) {
		add(p, true)
	}
	slices.Sort(scripts)
	// Scripts are drawn in proportion to their share of the corpus
	// inventory, so the filler keeps the corpus's mix (mostly Latin).
	weight := map[string]int{}
	total := 0
	for _, s := range scripts {
		weight[s] = len(heads[s])
		total += weight[s]
	}

	filler := make([]string, 0, n)
	for len(filler) < n {
		s, k := scripts[0], rng.IntN(total)
		for _, sc := range scripts {
			if k < weight[sc] {
				s = sc
				break
			}
			k -= weight[sc]
		}
		if len(tails[s]) == 0 {
			continue
		}
		p := heads[s][rng.IntN(len(heads[s]))] + tails[s][rng.IntN(len(tails[s]))]
		if have[p] || utf8.RuneCountInString(p) > maxRunes || !m2m100ValidPiece(p) {
			continue
		}
		add(p, false)
		filler = append(filler, p)
	}
	return filler
}

// m2m100Ranks maps each non-special piece to its merge priority (0 first).
func (v *m2m100Vocab) ranks(specials int) map[string]int {
	r := make(map[string]int, len(v.pieces))
	for i, p := range v.pieces[specials:] {
		r[p] = i
	}
	return r
}

// m2m100EncodeWord is SentencePiece's BPE encoding of one word: start from
// characters and merge the adjacent pair whose union ranks best (leftmost on
// ties) until no union is a piece.
func m2m100EncodeWord(word string, rank map[string]int) []string {
	var syms []string
	for _, r := range word {
		syms = append(syms, string(r))
	}
	for {
		best, bestRank := -1, 0
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := rank[syms[i]+syms[i+1]]; ok && (best < 0 || r < bestRank) {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			return syms
		}
		syms = slices.Replace(syms, best, best+2, syms[best]+syms[best+1])
	}
}

// frequencyOrder builds the fairseq dictionary: fairseq counts the pieces of
// the encoded training data and sorts by count; unseen pieces keep their
// SentencePiece order at the end.
func (v *m2m100Vocab) frequencyOrder(words map[string]int, specials int) []string {
	rank := v.ranks(specials)
	count := map[string]int{}
	for w, f := range words {
		for _, p := range m2m100EncodeWord(w, rank) {
			count[p] += f
		}
	}
	rest := slices.Clone(v.pieces[specials:])
	slices.SortStableFunc(rest, func(a, b string) int { return count[b] - count[a] })
	return slices.Concat(v.pieces[:specials], rest)
}
