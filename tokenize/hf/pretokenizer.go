package hf

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// preTokenizer splits normalized text into pre-tokens (appended to dst),
// already mapped (e.g. ByteLevel's byte→unicode).
type preTokenizer func(dst []string, s string) []string

// newPreTokenizer builds the pre_tokenizer section; null gives nil (the text
// is one word). first builds the chain for the part that begins the input,
// which differs only for Metaspace with prepend_scheme "first".
func newPreTokenizer(raw json.RawMessage, first bool) (preTokenizer, error) {
	typ, err := typed(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "":
		return nil, nil
	case "Sequence":
		var c struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		var seq []preTokenizer
		for i, r := range c.PreTokenizers {
			p, err := newPreTokenizer(r, first)
			if err != nil {
				return nil, fmt.Errorf("sequence item %d: %w", i, err)
			}
			if p != nil {
				seq = append(seq, p)
			}
		}
		return sequencePreTokenizer(seq), nil
	case "Metaspace":
		return newMetaspace(raw, first)
	case "WhitespaceSplit":
		return func(dst []string, s string) []string {
			return append(dst, strings.FieldsFunc(s, unicode.IsSpace)...)
		}, nil
	case "ByteLevel":
		return newByteLevel(raw)
	case "Split":
		return newSplit(raw)
	}
	return nil, fmt.Errorf("type %q is not supported", typ)
}

// sequencePreTokenizer applies each pre-tokenizer to every piece the
// previous one produced. With Metaspace's "first" scheme inside, the first
// piece stands for the one at offset 0 of the input.
func sequencePreTokenizer(seq []preTokenizer) preTokenizer {
	return func(dst []string, s string) []string {
		base := len(dst)
		dst = append(dst, s)
		var next []string
		for _, p := range seq {
			next = next[:0]
			for _, w := range dst[base:] {
				next = p(next, w)
			}
			dst = append(dst[:base], next...)
		}
		return dst
	}
}

// newMetaspace is Metaspace: spaces become the replacement (▁), a
// replacement is prepended to text that does not start with one (always,
// or for the first part only with "first"), and with split the text is cut
// before each replacement (MergedWithNext). The legacy add_prefix_space
// reads as prepend_scheme always (true) or never (false).
func newMetaspace(raw json.RawMessage, first bool) (preTokenizer, error) {
	var c struct {
		Replacement    string  `json:"replacement"`
		PrependScheme  *string `json:"prepend_scheme"`
		AddPrefixSpace *bool   `json:"add_prefix_space"`
		Split          *bool   `json:"split"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	rep := c.Replacement
	if rep == "" {
		rep = "\u2581"
	}
	prepend := true
	switch {
	case c.PrependScheme != nil:
		switch *c.PrependScheme {
		case "always":
		case "never":
			prepend = false
		case "first":
			prepend = first
		default:
			return nil, fmt.Errorf("metaspace: prepend_scheme %q is not supported", *c.PrependScheme)
		}
	case c.AddPrefixSpace != nil:
		prepend = *c.AddPrefixSpace
	}
	split := c.Split == nil || *c.Split
	return func(dst []string, s string) []string {
		if s == "" {
			return dst
		}
		s = strings.ReplaceAll(s, " ", rep)
		if prepend && !strings.HasPrefix(s, rep) {
			s = rep + s
		}
		if !split {
			return append(dst, s)
		}
		start := 0
		for i := 0; i < len(s); {
			j := strings.Index(s[i:], rep)
			if j < 0 {
				break
			}
			at := i + j
			if at > start {
				dst = append(dst, s[start:at])
				start = at
			}
			i = at + len(rep)
		}
		return append(dst, s[start:])
	}, nil
}
