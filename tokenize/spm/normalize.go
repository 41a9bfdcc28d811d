package spm

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/edgeinfer/edgeinfer/tokenize/charsmap"
	"github.com/edgeinfer/edgeinfer/tokenize/spm/spmpb"
)

// spaceSymbol is SentencePiece's visible space, U+2581 "▁".
const spaceSymbol = "\u2581"

// replacementChar is what a malformed UTF-8 byte normalizes to.
const replacementChar = "\uFFFD"

// normalizer is SentencePiece's Normalizer for one NormalizerSpec.
type normalizer struct {
	chars        *charsmap.Map
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
	chars, err := charsmap.Parse(spec.GetPrecompiledCharsmap())
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
	if l, rep := n.chars.LongestMatch(s); l > 0 {
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
