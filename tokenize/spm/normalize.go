package spm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/edgeinfer/edgeinfer/tokenize/spm/spmpb"
)

// spaceSymbol is SentencePiece's visible space, U+2581 "▁".
const spaceSymbol = "\u2581"

// replacementChar is what a malformed UTF-8 byte normalizes to.
const replacementChar = "\uFFFD"

// charsMap is a compiled normalization map (NormalizerSpec's
// precompiled_charsmap): a Darts-clone double-array trie over UTF-8 byte
// strings whose values are offsets of NUL-terminated replacements.
type charsMap struct {
	units       []uint32
	replacement []byte
}

// parseCharsMap splits the blob as SentencePiece stores it:
// <trie size, uint32 little-endian><trie units><replacement strings>.
func parseCharsMap(blob []byte) (*charsMap, error) {
	if len(blob) == 0 {
		return nil, nil
	}
	if len(blob) < 4 {
		return nil, errors.New("precompiled charsmap is truncated")
	}
	size := binary.LittleEndian.Uint32(blob)
	if size%4 != 0 || uint64(size) >= uint64(len(blob)-4) {
		return nil, fmt.Errorf("precompiled charsmap: trie size %d does not fit a %d-byte blob", size, len(blob))
	}
	trie := blob[4 : 4+size]
	units := make([]uint32, size/4)
	for i := range units {
		units[i] = binary.LittleEndian.Uint32(trie[4*i:])
	}
	return &charsMap{units: units, replacement: blob[4+size:]}, nil
}

// longestMatch returns the byte length of the longest key that prefixes s
// and its replacement, or 0 when no key does (Darts-clone's
// commonPrefixSearch, keeping the longest result).
func (m *charsMap) longestMatch(s string) (int, string) {
	if m == nil || len(m.units) == 0 {
		return 0, ""
	}
	// Unit layout (darts.h): bit 8 marks a leaf below, the low byte plus
	// bit 31 is the label, and the offset to the children sits above bit 10,
	// scaled by 256 when bit 9 is set.
	offset := func(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }
	label := func(u uint32) uint32 { return u & ((1 << 31) | 0xFF) }
	pos := offset(m.units[0])
	bestLen, bestValue := 0, uint32(0)
	for i := 0; i < len(s); i++ {
		c := uint32(s[i])
		pos ^= c
		if int(pos) >= len(m.units) {
			break
		}
		u := m.units[pos]
		if label(u) != c {
			break
		}
		pos ^= offset(u)
		if int(pos) >= len(m.units) {
			break
		}
		if (u>>8)&1 == 1 {
			bestLen, bestValue = i+1, m.units[pos]&(1<<31-1)
		}
	}
	if bestLen == 0 || int(bestValue) >= len(m.replacement) {
		return 0, ""
	}
	rep := m.replacement[bestValue:]
	if end := bytes.IndexByte(rep, 0); end >= 0 {
		rep = rep[:end]
	}
	return bestLen, string(rep)
}

// normalizer is SentencePiece's Normalizer for one NormalizerSpec.
type normalizer struct {
	chars        *charsMap
	dummyPrefix  bool
	collapse     bool // remove_extra_whitespaces
	escapeSpaces bool
	// userDefined are pieces kept as they are: SentencePiece matches them
	// before the charsmap.
	userDefined *prefixMatcher
}

func newNormalizer(spec *spmpb.NormalizerSpec, userDefined *prefixMatcher) (*normalizer, error) {
	if spec == nil {
		return nil, errors.New("model has no normalizer_spec")
	}
	if spec.GetPrecompiledCharsmap() == nil && spec.GetNormalizationRuleTsv() != "" {
		return nil, errors.New("normalizer rules given as TSV are not supported; compile them into precompiled_charsmap")
	}
	chars, err := parseCharsMap(spec.GetPrecompiledCharsmap())
	if err != nil {
		return nil, err
	}
	return &normalizer{
		chars:        chars,
		dummyPrefix:  spec.GetAddDummyPrefix(),
		collapse:     spec.GetRemoveExtraWhitespaces(),
		escapeSpaces: spec.GetEscapeWhitespaces(),
		userDefined:  userDefined,
	}, nil
}

// prefix normalizes the start of s: it returns the replacement text and how
// many bytes of s it consumed.
func (n *normalizer) prefix(s string) (string, int) {
	if l := n.userDefined.match(s); l > 0 {
		return s[:l], l
	}
	if l, rep := n.chars.longestMatch(s); l > 0 {
		return rep, l
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size <= 1 {
		return replacementChar, 1
	}
	return s[:size], size
}

// normalize is Normalizer::Normalize: map the text through the charsmap,
// drop leading, trailing and repeated spaces, add the dummy prefix and
// write spaces as ▁.
func (n *normalizer) normalize(text string) string {
	if n.collapse {
		for text != "" {
			rep, l := n.prefix(text)
			if rep != " " {
				break
			}
			text = text[l:]
		}
	}
	if text == "" {
		return ""
	}
	space := " "
	if n.escapeSpaces {
		space = spaceSymbol
	}
	var b strings.Builder
	b.Grow(len(text) + len(spaceSymbol)*8)
	if n.dummyPrefix {
		b.WriteString(space)
	}
	prevSpace := n.collapse
	for text != "" {
		rep, l := n.prefix(text)
		text = text[l:]
		if prevSpace {
			rep = strings.TrimLeft(rep, " ")
		}
		if rep != "" {
			b.WriteString(strings.ReplaceAll(rep, " ", space))
			prevSpace = strings.HasSuffix(rep, " ")
		}
		if !n.collapse {
			prevSpace = false
		}
	}
	out := b.String()
	if n.collapse {
		for strings.HasSuffix(out, space) {
			out = out[:len(out)-len(space)]
		}
	}
	return out
}

// prefixMatcher finds the longest of a set of strings at the start of a
// text; SentencePiece uses one for user-defined pieces.
type prefixMatcher struct {
	pieces map[string]bool
	maxLen int
}

func newPrefixMatcher(pieces []string) *prefixMatcher {
	if len(pieces) == 0 {
		return nil
	}
	m := &prefixMatcher{pieces: map[string]bool{}}
	for _, p := range pieces {
		m.pieces[p] = true
		m.maxLen = max(m.maxLen, len(p))
	}
	return m
}

// match returns the byte length of the longest piece prefixing s, or 0.
func (m *prefixMatcher) match(s string) int {
	if m == nil {
		return 0
	}
	for l := min(m.maxLen, len(s)); l > 0; l-- {
		if m.pieces[s[:l]] {
			return l
		}
	}
	return 0
}
