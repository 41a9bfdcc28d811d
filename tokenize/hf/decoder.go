package hf

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder is tokenizers' Decoder::decode_chain: tokens in, pieces out,
// which Decode joins. A Sequence chains its decoders.
type decoder func(tokens []string) []string

// newDecoder reads the decoder section; null gives nil (Decode joins the
// tokens with spaces, as the library does without a decoder). The types
// are those the supported families use: ByteLevel (GPT-2, Whisper, Qwen),
// Metaspace (SentencePiece Unigram), and Replace, ByteFallback, Fuse and
// Strip in a Sequence (SentencePiece BPE: Gemma, Llama).
func newDecoder(raw json.RawMessage) (decoder, error) {
	typ, err := typed(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "":
		return nil, nil
	case "Sequence":
		var c struct {
			Decoders []json.RawMessage `json:"decoders"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		var seq []decoder
		for i, r := range c.Decoders {
			d, err := newDecoder(r)
			if err != nil {
				return nil, fmt.Errorf("sequence item %d: %w", i, err)
			}
			if d != nil {
				seq = append(seq, d)
			}
		}
		return func(tokens []string) []string {
			for _, d := range seq {
				tokens = d(tokens)
			}
			return tokens
		}, nil
	case "ByteLevel":
		return byteLevelDecode, nil
	case "Metaspace":
		return newMetaspaceDecoder(raw)
	case "Replace":
		return newReplaceDecoder(raw)
	case "ByteFallback":
		return byteFallbackDecode, nil
	case "Fuse":
		return func(tokens []string) []string { return []string{strings.Join(tokens, "")} }, nil
	case "Strip":
		return newStripDecoder(raw)
	}
	return nil, fmt.Errorf("type %q is not supported", typ)
}

// byteLevelByte maps GPT-2's byte-level alphabet back to bytes.
var byteLevelByte = func() map[rune]byte {
	m := make(map[rune]byte, 256)
	for b, s := range byteLevelChar {
		r, _ := utf8.DecodeRuneInString(s)
		m[r] = byte(b)
	}
	return m
}()

// byteLevelDecode turns every token back into its bytes (a token with a
// character outside the alphabet, such as an added token, keeps its own
// UTF-8 bytes) and reads the whole as UTF-8, an invalid sequence becoming
// U+FFFD as Rust's String::from_utf8_lossy does.
func byteLevelDecode(tokens []string) []string {
	return []string{LossyUTF8(byteLevelBytes(tokens))}
}

// byteLevelBytes is the tokens' bytes, as byteLevelDecode reads them.
func byteLevelBytes(tokens []string) []byte {
	var buf []byte
	for _, t := range tokens {
		start := len(buf)
		for _, r := range t {
			b, ok := byteLevelByte[r]
			if !ok {
				buf = append(buf[:start], t...)
				break
			}
			buf = append(buf, b)
		}
	}
	return buf
}

// LossyUTF8 is Rust's String::from_utf8_lossy (and a TextDecoder's
// replacement): each maximal prefix of a valid sequence that cannot be
// completed, or each byte that starts none, becomes one U+FFFD, as Python's
// errors="replace" does too. Go's own conversions replace byte by byte,
// which differs on a cut sequence.
func LossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out strings.Builder
	out.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			out.Write(b[i : i+n])
			i += n
			continue
		}
		out.WriteRune(utf8.RuneError)
		i += invalidPrefix(b[i:])
	}
	return out.String()
}

// invalidPrefix is the length of the maximal subpart at the start of b,
// which does not begin a valid UTF-8 sequence: the lead byte and the
// continuation bytes that could still have completed it (Unicode §3.9,
// table 3-7), at least 1.
func invalidPrefix(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		if b[n] < lo || b[n] > hi {
			break
		}
		n++
		lo, hi = 0x80, 0xBF
	}
	return n
}

// newMetaspaceDecoder turns the replacement back into spaces; in the
// first token the replacement is dropped instead unless prepend_scheme is
// "never" (tokenizers drops every one there, not only a leading one).
func newMetaspaceDecoder(raw json.RawMessage) (decoder, error) {
	var c struct {
		Replacement    string  `json:"replacement"`
		PrependScheme  *string `json:"prepend_scheme"`
		AddPrefixSpace *bool   `json:"add_prefix_space"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	rep := c.Replacement
	if rep == "" {
		rep = "\u2581"
	}
	strip := true
	switch {
	case c.PrependScheme != nil:
		strip = *c.PrependScheme != "never"
	case c.AddPrefixSpace != nil:
		strip = *c.AddPrefixSpace
	}
	return func(tokens []string) []string {
		out := make([]string, len(tokens))
		for i, t := range tokens {
			with := " "
			if i == 0 && strip {
				with = ""
			}
			out[i] = strings.ReplaceAll(t, rep, with)
		}
		return out
	}, nil
}

// newReplaceDecoder replaces a String or Regex pattern in every token.
func newReplaceDecoder(raw json.RawMessage) (decoder, error) {
	var c struct {
		Pattern struct {
			String *string `json:"String"`
			Regex  *string `json:"Regex"`
		} `json:"pattern"`
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	var replace func(string) string
	switch {
	case c.Pattern.String != nil && c.Pattern.Regex == nil:
		lit := *c.Pattern.String
		replace = func(s string) string {
			if lit == "" {
				return s
			}
			return strings.ReplaceAll(s, lit, c.Content)
		}
	case c.Pattern.Regex != nil && c.Pattern.String == nil:
		re, err := compileOniguruma(*c.Pattern.Regex)
		if err != nil {
			return nil, fmt.Errorf("Replace decoder: %w", err)
		}
		replace = func(s string) string { return re.ReplaceAllLiteralString(s, c.Content) }
	default:
		return nil, fmt.Errorf("Replace decoder: pattern must be one String or one Regex")
	}
	return func(tokens []string) []string {
		out := make([]string, len(tokens))
		for i, t := range tokens {
			out[i] = replace(t)
		}
		return out
	}, nil
}

// byteFallbackDecode joins runs of <0xAB> tokens into their bytes: valid
// UTF-8 becomes its text, anything else one U+FFFD per byte, as
// tokenizers' ByteFallback decoder does.
func byteFallbackDecode(tokens []string) []string {
	out := make([]string, 0, len(tokens))
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			out = append(out, strings.Repeat("\uFFFD", len(pending)))
		}
		pending = pending[:0]
	}
	for _, t := range tokens {
		if b, ok := byteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// byteToken reads "<0xAB>".
func byteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(t[3:5], 16, 8)
	if err != nil {
		return 0, false
	}
	return byte(v), true
}

// newStripDecoder removes up to start leading and stop trailing copies of
// the content character from every token.
func newStripDecoder(raw json.RawMessage) (decoder, error) {
	var c struct {
		Content string `json:"content"`
		Start   int    `json:"start"`
		Stop    int    `json:"stop"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(c.Content) != 1 || c.Start < 0 || c.Stop < 0 {
		return nil, fmt.Errorf("Strip decoder: want one content character and counts ≥ 0")
	}
	return func(tokens []string) []string {
		out := make([]string, len(tokens))
		for i, t := range tokens {
			for k := 0; k < c.Start && strings.HasPrefix(t, c.Content); k++ {
				t = t[len(c.Content):]
			}
			for k := 0; k < c.Stop && strings.HasSuffix(t, c.Content); k++ {
				t = t[:len(t)-len(c.Content)]
			}
			out[i] = t
		}
		return out
	}, nil
}
