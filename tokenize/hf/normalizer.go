package hf

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/rivo/uniseg"
	"golang.org/x/text/unicode/norm"

	"github.com/edgeinfer/edgeinfer/tokenize/charsmap"
)

// normalizer maps text to its normalized form.
type normalizer func(string) string

// newNormalizer builds the normalizer section; null gives nil (the identity).
func newNormalizer(raw json.RawMessage) (normalizer, error) {
	typ, err := typed(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "":
		return nil, nil
	case "Sequence":
		var c struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		var seq []normalizer
		for i, r := range c.Normalizers {
			n, err := newNormalizer(r)
			if err != nil {
				return nil, fmt.Errorf("sequence item %d: %w", i, err)
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return func(s string) string {
			for _, n := range seq {
				s = n(s)
			}
			return s
		}, nil
	case "Precompiled":
		return newPrecompiled(raw)
	case "NFC":
		return unicodeForm(norm.NFC), nil
	case "NFD":
		return unicodeForm(norm.NFD), nil
	case "NFKC":
		return unicodeForm(norm.NFKC), nil
	case "NFKD":
		return unicodeForm(norm.NFKD), nil
	case "Lowercase":
		// Go's simple case mapping: Rust's to_lowercase differs on final
		// sigma and the few characters that lowercase to two.
		return strings.ToLower, nil
	case "Nmt":
		return nmt, nil
	case "StripAccents":
		return func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.Is(unicode.Mn, r) {
					return -1
				}
				return r
			}, s)
		}, nil
	case "Strip":
		var c struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		return func(s string) string {
			if c.Left {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
			}
			if c.Right {
				s = strings.TrimRightFunc(s, unicode.IsSpace)
			}
			return s
		}, nil
	case "Prepend":
		var c struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		return func(s string) string {
			if s == "" {
				return s
			}
			return c.Prepend + s
		}, nil
	case "Replace":
		var c struct {
			Pattern pattern `json:"pattern"`
			Content string  `json:"content"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		if c.Pattern.String != nil {
			old := *c.Pattern.String
			if old == "" {
				return nil, errors.New("replace: empty pattern")
			}
			return func(s string) string { return strings.ReplaceAll(s, old, c.Content) }, nil
		}
		re, err := c.Pattern.compile()
		if err != nil {
			return nil, fmt.Errorf("replace: %w", err)
		}
		return func(s string) string { return re.ReplaceAllLiteralString(s, c.Content) }, nil
	}
	return nil, fmt.Errorf("type %q is not supported", typ)
}

// pattern is the {"String": ...} or {"Regex": ...} of Replace and Split.
type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

// compile compiles a Regex pattern with Go's RE2 engine; a pattern that
// needs more (look-around, backreferences) is reported as unsupported.
func (p pattern) compile() (*regexp.Regexp, error) {
	if p.Regex == nil {
		return nil, errors.New("pattern has neither String nor Regex")
	}
	re, err := regexp.Compile(*p.Regex)
	if err != nil {
		return nil, fmt.Errorf("regex %q is not supported: %w", *p.Regex, err)
	}
	return re, nil
}

// newPrecompiled is the Precompiled normalizer: SentencePiece's compiled
// charsmap (nmt_nfkc for XLM-R), applied as tokenizers' Precompiled does
// rather than as SentencePiece does. The library walks extended grapheme
// clusters: a cluster shorter than 6 bytes is replaced whole by the first
// (shortest) charsmap key that prefixes it, if any (so "ｶﾞ", two
// characters of 3 bytes, is mapped character by character, and a short
// cluster whose first character alone is a key loses the rest); otherwise
// each character is looked up alone. Characters without a key stay.
func newPrecompiled(raw json.RawMessage) (normalizer, error) {
	var c struct {
		Charsmap *string `json:"precompiled_charsmap"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if c.Charsmap == nil {
		return nil, nil // some exports write null for "no normalization"
	}
	blob, err := base64.StdEncoding.DecodeString(*c.Charsmap)
	if err != nil {
		return nil, fmt.Errorf("precompiled_charsmap: %w", err)
	}
	m, err := charsmap.Parse(blob)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, nil
	}
	return func(s string) string {
		var b strings.Builder
		b.Grow(len(s))
		state := -1
		for s != "" {
			var cluster string
			cluster, s, _, state = uniseg.FirstGraphemeClusterInString(s, state)
			if len(cluster) < 6 {
				if l, rep := m.FirstMatch(cluster); l > 0 {
					b.WriteString(rep)
					continue
				}
			}
			for i, r := range cluster {
				ch := cluster[i : i+len(string(r))]
				if l, rep := m.FirstMatch(ch); l > 0 {
					b.WriteString(rep)
				} else {
					b.WriteString(ch)
				}
			}
		}
		return b.String()
	}, nil
}

// nmt is the library's Nmt normalizer: SentencePiece's nmt rules without
// NFKC — control characters removed, odd spaces made plain spaces.
func nmt(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0x1 && r <= 0x8, r == 0xB, r >= 0xE && r <= 0x1F, r == 0x7F, r == 0x8F, r == 0x9F:
			return -1
		case r == 0x9, r == 0xA, r == 0xC, r == 0xD, r == 0x1680, r >= 0x200B && r <= 0x200F,
			r == 0x2028, r == 0x2029, r == 0x2581, r == 0xFEFF, r == 0xFFFD:
			return ' '
		}
		return r
	}, s)
}
