package hf

import (
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// cgj is U+034F COMBINING GRAPHEME JOINER.
const cgj = "\u034f"

// unicodeForm is the Unicode normalization form f as tokenizers (Rust's
// unicode-normalization) applies it. Go's norm follows the Stream-Safe Text
// Format and puts a U+034F after every 30 non-starters in a row; Rust does
// not. When that happened, the text is normalized again by the plain
// algorithm (decompose, order marks, compose), rune by rune.
func unicodeForm(f norm.Form) func(string) string {
	return func(s string) string {
		out := f.String(s)
		if strings.Count(out, cgj) == strings.Count(s, cgj) {
			return out
		}
		return normalizeUnbounded(f, s)
	}
}

func ccc(r rune) uint8 { return norm.NFD.PropertiesString(string(r)).CCC() }

// normalizeUnbounded is UAX #15 without the stream-safe limit.
func normalizeUnbounded(f norm.Form, s string) string {
	decompose := norm.NFD
	if f == norm.NFKC || f == norm.NFKD {
		decompose = norm.NFKD
	}
	// Full decomposition, one rune at a time (a single rune's
	// decomposition is far below the limit).
	var rs []rune
	for _, r := range s {
		for _, d := range decompose.String(string(r)) {
			rs = append(rs, d)
		}
	}
	// Canonical ordering: each run of non-starters sorted by class.
	for i := 0; i < len(rs); {
		if ccc(rs[i]) == 0 {
			i++
			continue
		}
		j := i
		for j < len(rs) && ccc(rs[j]) != 0 {
			j++
		}
		slices.SortStableFunc(rs[i:j], func(a, b rune) int { return int(ccc(a)) - int(ccc(b)) })
		i = j
	}
	if f == norm.NFD || f == norm.NFKD {
		return string(rs)
	}
	// Canonical composition: a character joins the last starter unless a
	// character between them is a starter or has a class at least its own.
	out := make([]rune, 0, len(rs))
	starter := -1
	for _, r := range rs {
		c := ccc(r)
		if starter >= 0 {
			blocked := false
			if len(out)-1 > starter {
				last := ccc(out[len(out)-1])
				blocked = last == 0 || last >= c
			}
			if !blocked {
				if comp := norm.NFC.String(string(out[starter]) + string(r)); utf8.RuneCountInString(comp) == 1 {
					out[starter], _ = utf8.DecodeRuneInString(comp)
					continue
				}
			}
		}
		if c == 0 {
			starter = len(out)
		}
		out = append(out, r)
	}
	return string(out)
}
