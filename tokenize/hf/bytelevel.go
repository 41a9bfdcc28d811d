package hf

import (
	"encoding/json"
	"fmt"
	"strings"
)

// byteLevelChar is GPT-2's byte-to-unicode table: printable bytes stand for
// themselves, the others are shifted past U+0100 in byte order (space is
// "Ġ", newline "Ċ"), so every byte string has a printable spelling.
var byteLevelChar = func() [256]string {
	var m [256]string
	n := 0
	for b := range 256 {
		switch {
		case b >= '!' && b <= '~', b >= 0xA1 && b <= 0xAC, b >= 0xAE:
			m[b] = string(rune(b))
		default:
			m[b] = string(rune(256 + n))
			n++
		}
	}
	return m
}()

// byteLevelSpell appends s spelled in the byte-level alphabet to b.
func byteLevelSpell(b *strings.Builder, s string) {
	b.Grow(2 * len(s))
	for i := range len(s) {
		b.WriteString(byteLevelChar[s[i]])
	}
}

type byteLevelConfig struct {
	AddPrefixSpace *bool `json:"add_prefix_space"`
	UseRegex       *bool `json:"use_regex"`
}

// newByteLevel reads a ByteLevel pre-tokenizer: an optional leading space
// (add_prefix_space, when the text does not start with one), the GPT-2 split
// (use_regex), then each piece's bytes spelled in GPT-2's alphabet. Missing
// flags take tokenizers' defaults (both true). trim_offsets only moves
// offsets, which edgeinfer does not report.
func newByteLevel(raw json.RawMessage) (preTokenizer, error) {
	var c byteLevelConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("ByteLevel pre-tokenizer: %w", err)
	}
	addPrefix := c.AddPrefixSpace == nil || *c.AddPrefixSpace
	useRegex := c.UseRegex == nil || *c.UseRegex
	return func(dst []string, s string) []string {
		if s == "" {
			return dst
		}
		if addPrefix && s[0] != ' ' {
			s = " " + s
		}
		var b strings.Builder
		if !useRegex {
			byteLevelSpell(&b, s)
			return append(dst, b.String())
		}
		for i := 0; i < len(s); {
			end := gpt2Match(s, i)
			byteLevelSpell(&b, s[i:end])
			dst = append(dst, b.String())
			b.Reset()
			i = end
		}
		return dst
	}, nil
}
