package synth

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// Vocabularies of the synthetic chat families (llmfamily.go): a byte-level
// BPE one ("gpt2", as Llama 3 and Qwen3 use) and a SentencePiece one
// ("llama", as Gemma 3 uses). Both are built from a small corpus (the chat
// templates' text, tool-call JSON, an English word list), so the prompts
// Ollama renders tokenize into whole words and JSON punctuation runs, which
// the shaped weights (llmshape.go) key their rules on.

// GGUF token types (tokenizer.ggml.token_type).
const (
	tokNormal      int32 = 1
	tokUnknown     int32 = 2
	tokControl     int32 = 3
	tokUserDefined int32 = 4
	tokByte        int32 = 6
)

// Pretokenizer patterns: Qwen2/3's, as Ollama's Go engine hard-codes it for
// qwen3, and Llama 3's ("llama-bpe" in llama.cpp, which differs in taking up
// to three digits at a time).
const (
	qwenPretokenizer   = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	llama3Pretokenizer = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// llmSpecial is a special token of a family's vocabulary.
type llmSpecial struct {
	text string
	typ  int32 // tokControl or tokUserDefined
}

// Where a token came from, which sets its default logit bias (llmshape.go).
const (
	tokKindSpecial = iota
	tokKindByte    // a byte token (BPE) or byte-fallback token (SentencePiece)
	tokKindChunk   // a whole pretokenized chunk (or piece) of the corpus
	tokKindPrefix  // only a step of some chunk's merge chain
	tokKindFiller  // a made-up word that pads the vocabulary to its size
)

// llmVocab is a built vocabulary. text holds each token's decoded text
// (bytes, not the byte-level BPE or SentencePiece spelling), which the
// shaping rules and tests use to find tokens.
type llmVocab struct {
	tokens []string
	types  []int32
	scores []float32 // SentencePiece only
	merges []string  // BPE only
	text   []string
	kinds  []int
	byText map[string]int
}

func (v *llmVocab) add(tok string, typ int32, score float32, text string) int {
	kind := tokKindChunk
	switch typ {
	case tokControl, tokUserDefined, tokUnknown:
		kind = tokKindSpecial
	case tokByte:
		kind = tokKindByte
	}
	return v.addKind(tok, typ, score, text, kind)
}

func (v *llmVocab) addKind(tok string, typ int32, score float32, text string, kind int) int {
	id := len(v.tokens)
	v.tokens = append(v.tokens, tok)
	v.types = append(v.types, typ)
	v.scores = append(v.scores, score)
	v.text = append(v.text, text)
	v.kinds = append(v.kinds, kind)
	if _, dup := v.byText[text]; !dup || kind == tokKindSpecial {
		v.byText[text] = id
	}
	return id
}

// id returns the token whose text is s, or -1.
func (v *llmVocab) id(s string) int {
	if id, ok := v.byText[s]; ok {
		return id
	}
	return -1
}

// mustID is id for tokens a family's rules rely on.
func (v *llmVocab) mustID(s string) (int, error) {
	id := v.id(s)
	if id < 0 {
		return 0, fmt.Errorf("vocabulary has no token %q", s)
	}
	return id, nil
}

// byteToRune is GPT-2's byte-level alphabet: printable bytes stand for
// themselves, the others are shifted past U+0100 (space is "Ġ", newline "Ċ").
var byteToRune = func() [256]rune {
	var m [256]rune
	n := 0
	for b := range 256 {
		switch {
		case b >= '!' && b <= '~', b >= 0xA1 && b <= 0xAC, b >= 0xAE:
			m[b] = rune(b)
		default:
			m[b] = rune(256 + n)
			n++
		}
	}
	return m
}()

// bpeSpell writes text in the byte-level alphabet.
func bpeSpell(text string) string {
	var b strings.Builder
	for i := range len(text) {
		b.WriteRune(byteToRune[text[i]])
	}
	return b.String()
}

// pretokenize splits text the way the family's tokenizer does before BPE.
func pretokenize(re *regexp2.Regexp, text string) []string {
	var out []string
	r := []rune(text)
	offset := 0
	for m, _ := re.FindRunesMatch(r); m != nil; m, _ = re.FindNextMatch(m) {
		if m.Index > offset {
			out = append(out, string(r[offset:m.Index]))
		}
		out = append(out, m.String())
		offset = m.Index + m.Length
	}
	if offset < len(r) {
		out = append(out, string(r[offset:]))
	}
	return out
}

// newBPEVocab builds a byte-level BPE vocabulary of exactly size tokens: the
// 256 byte tokens, the corpus's pretokenized chunks (most frequent first,
// each with the prefixes its merge chain needs), made-up words until only
// the specials are left to add, then the specials. Chunks are whole tokens,
// so Ollama's tokenizer (which looks a whole chunk up before merging) and
// llama.cpp's Llama 3 one (ignore_merges) give them one token each.
func newBPEVocab(size int, pattern string, corpus []string, specials []llmSpecial) (*llmVocab, error) {
	v := &llmVocab{byText: map[string]int{}}
	for b := range 256 {
		v.addKind(string(byteToRune[b]), tokNormal, 0, string([]byte{byte(b)}), tokKindByte)
	}
	room := size - len(specials)
	re := regexp2.MustCompile(pattern, regexp2.RE2)
	count := map[string]int{}
	var order []string
	for _, text := range corpus {
		for _, chunk := range pretokenize(re, text) {
			if count[chunk] == 0 {
				order = append(order, chunk)
			}
			count[chunk]++
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return count[order[i]] > count[order[j]] })

	// addChunk adds text with the merges that build it from tokens, adding
	// the fewest intermediate tokens (a split into two existing tokens is
	// one merge); false when that would overflow room. Text is ASCII-safe
	// here: one spelled rune per byte.
	addChunk := func(text string) bool {
		byteCost := mergeCost(func(t []byte) bool { return v.id(string(t)) >= 0 }, func(t []byte) string { return string(t) })
		cost := func(t string) int { return byteCost([]byte(t)) }
		if len(v.tokens)+cost(text) > room {
			return false
		}
		var build func(t string, kind int)
		build = func(t string, kind int) {
			if len(t) == 1 || v.id(t) >= 0 {
				return
			}
			c := cost(t)
			for k := len(t) - 1; k >= 1; k-- {
				if cost(t[:k])+cost(t[k:])+1 == c {
					build(t[:k], tokKindPrefix)
					build(t[k:], tokKindPrefix)
					v.addKind(bpeSpell(t), tokNormal, 0, t, kind)
					v.merges = append(v.merges, bpeSpell(t[:k])+" "+bpeSpell(t[k:]))
					return
				}
			}
		}
		build(text, tokKindChunk)
		if id := v.id(text); id >= 0 && v.kinds[id] == tokKindPrefix {
			v.kinds[id] = tokKindChunk // first added on the way to a longer chunk
		}
		return true
	}
	for _, chunk := range order {
		if !addChunk(chunk) {
			return nil, fmt.Errorf("bpe vocabulary: %d tokens do not hold the corpus (stopped at %q)", size, chunk)
		}
	}
	// Made-up words fill the rest; a generated one only matters as output.
	syl := llamaSyllables()
	for n := 1; len(v.tokens) < room; n++ {
		idx := make([]int, n)
		for len(v.tokens) < room {
			var w strings.Builder
			for _, i := range idx {
				w.WriteString(syl[i])
			}
			for _, text := range []string{" " + w.String(), w.String()} {
				if len(v.tokens) < room && v.id(text) < 0 {
					v.addKind(bpeSpell(text), tokNormal, 0, text, tokKindFiller)
				}
			}
			k := n - 1
			for ; k >= 0; k-- {
				if idx[k]++; idx[k] < len(syl) {
					break
				}
				idx[k] = 0
			}
			if k < 0 {
				break
			}
		}
	}
	for _, s := range specials {
		v.add(s.text, s.typ, 0, s.text)
	}
	if len(v.tokens) != size {
		return nil, fmt.Errorf("bpe vocabulary: built %d tokens, want %d", len(v.tokens), size)
	}
	return v, nil
}

// newSPMVocab builds a SentencePiece vocabulary of exactly size tokens: the
// specials, the 256 byte-fallback tokens, single characters, the corpus's
// pieces (words get the "▁" of a preceding space), each with its prefixes
// so SentencePiece's pairwise merges reach it, then made-up words. Earlier
// pieces score higher, so merges prefer the corpus's words.
func newSPMVocab(size int, corpus []string, specials []llmSpecial, unk int) (*llmVocab, error) {
	v := &llmVocab{byText: map[string]int{}}
	for i, s := range specials {
		typ := s.typ
		if i == unk {
			typ = tokUnknown
		}
		v.add(s.text, typ, 0, s.text)
	}
	for b := range 256 {
		v.add(fmt.Sprintf("<0x%02X>", b), tokByte, 0, fmt.Sprintf("<0x%02X>", b))
	}
	first := len(v.tokens)
	piece := func(p string, kind int) bool {
		text := strings.ReplaceAll(p, spaceMark, " ")
		if id := v.id(text); id >= 0 {
			if kind == tokKindChunk && v.kinds[id] == tokKindPrefix {
				v.kinds[id] = kind
			}
			return true
		}
		if len(v.tokens) >= size {
			return false
		}
		v.addKind(p, tokNormal, -float32(len(v.tokens)-first), text, kind)
		return true
	}
	for _, p := range []string{spaceMark, "\n", "\n\n", "\t"} {
		piece(p, tokKindChunk)
	}
	for c := byte('!'); c <= '~'; c++ {
		piece(string(c), tokKindChunk)
	}
	// Pieces: a space starts a new piece, as SentencePiece splits words.
	count := map[string]int{}
	var order []string
	for _, text := range corpus {
		for _, p := range spmPieces(text) {
			if count[p] == 0 {
				order = append(order, p)
			}
			count[p]++
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return count[order[i]] > count[order[j]] })
	// Each piece with the fewest intermediate pieces that let pairwise
	// merges reach it (children are added first, so they score higher).
	for _, p := range order {
		cost := mergeCost(func(r []rune) bool { return v.id(strings.ReplaceAll(string(r), spaceMark, " ")) >= 0 },
			func(r []rune) string { return string(r) })
		var build func(r []rune, kind int) bool
		build = func(r []rune, kind int) bool {
			c := cost(r)
			if c == 0 {
				if len(r) == 1 {
					return piece(string(r), tokKindChunk)
				}
				return piece(string(r), kind) // marks a prefix that is also a chunk
			}
			for k := len(r) - 1; k >= 1; k-- {
				if cost(r[:k])+cost(r[k:])+1 == c {
					return build(r[:k], tokKindPrefix) && build(r[k:], tokKindPrefix) && piece(string(r), kind)
				}
			}
			return false
		}
		if !build([]rune(p), tokKindChunk) {
			return nil, fmt.Errorf("spm vocabulary: %d tokens do not hold the corpus (stopped at %q)", size, p)
		}
	}
	syl := llamaSyllables()
	for n := 1; len(v.tokens) < size; n++ {
		idx := make([]int, n)
		for len(v.tokens) < size {
			var w strings.Builder
			for _, i := range idx {
				w.WriteString(syl[i])
			}
			piece(spaceMark+w.String(), tokKindFiller)
			piece(w.String(), tokKindFiller)
			k := n - 1
			for ; k >= 0; k-- {
				if idx[k]++; idx[k] < len(syl) {
					break
				}
				idx[k] = 0
			}
			if k < 0 {
				break
			}
		}
	}
	if len(v.tokens) != size {
		return nil, fmt.Errorf("spm vocabulary: built %d tokens, want %d", len(v.tokens), size)
	}
	return v, nil
}

// spmPieces splits text into SentencePiece-style pieces: runs of letters or
// digits (a leading space becomes "▁"), runs of punctuation, and newlines.
func spmPieces(text string) []string {
	var out []string
	var cur strings.Builder
	kind := 0 // 1 word, 2 punctuation
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
		kind = 0
	}
	space := false
	for _, r := range text {
		switch {
		case r == ' ':
			flush()
			space = true
			continue
		case r == '\n':
			flush()
			out = append(out, "\n")
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if kind != 1 {
				flush()
				kind = 1
				if space {
					cur.WriteString(spaceMark)
				}
			}
			cur.WriteRune(r)
		default:
			if kind != 2 {
				flush()
				kind = 2
				if space {
					cur.WriteString(spaceMark)
				}
			}
			cur.WriteRune(r)
		}
		space = false
	}
	flush()
	return slices.DeleteFunc(out, func(s string) bool { return !utf8.ValidString(s) || s == "\n" })
}

// mergeCost returns a memoized count of the fewest intermediate pieces that
// pairwise merges need to build a sequence from pieces known reports (a
// single unit is always known; a split into two known pieces costs one);
// key names a sequence for the memo.
func mergeCost[T byte | rune](known func([]T) bool, key func([]T) string) func([]T) int {
	memo := map[string]int{}
	var cost func(u []T) int
	cost = func(u []T) int {
		if len(u) == 1 || known(u) {
			return 0
		}
		k0 := key(u)
		if c, ok := memo[k0]; ok {
			return c
		}
		best := math.MaxInt
		for k := len(u) - 1; k >= 1; k-- {
			best = min(best, cost(u[:k])+cost(u[k:])+1)
		}
		memo[k0] = best
		return best
	}
	return cost
}
