package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The pre-tokenizer regexes of the byte-level BPE families. Go's regexp has
// no lookahead, which all three need for `\s+(?!\S)`, so each is matched by
// hand (qwenMatch, gpt2Match) exactly as a backtracking engine (Oniguruma in
// tokenizers, JavaScript's in transformers.js) matches it.
const (
	// Qwen2, Qwen2.5, Qwen3: one digit per piece.
	qwenPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// Llama 3 (tiktoken's cl100k): up to three digits per piece.
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// GPT-2, as ByteLevel's use_regex applies it.
	gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

// Character classes of those patterns. \s is Unicode White_Space, as in
// Oniguruma and in transformers.js's rewrite of these patterns;
// unicode.IsSpace is that property. Invalid UTF-8 decodes to U+FFFD, a
// symbol ("other").
func isL(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r)
}

func isN(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsNumber(r)
}

func isOther(r rune) bool { return !unicode.IsSpace(r) && !isL(r) && !isN(r) }

func runeAt(s string, i int) (rune, int) {
	if i >= len(s) {
		return -1, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// runEnd returns the end of the run of characters in class starting at i.
func runEnd(s string, i int, class func(rune) bool) int {
	for i < len(s) {
		r, w := runeAt(s, i)
		if !class(r) {
			break
		}
		i += w
	}
	return i
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// contraction matches 's 't 're 've 'm 'll 'd at i (s[i] == '\”); fold
// makes the letters case-insensitive. The fold is ASCII only: Oniguruma would
// also fold U+017F (ſ) to s, which transformers.js does not; the two agree on
// everything else.
func contraction(s string, i int, fold bool) int {
	at := func(k int) byte {
		if k >= len(s) {
			return 0
		}
		if fold {
			return lowerASCII(s[k])
		}
		return s[k]
	}
	switch at(i + 1) {
	case 's', 't', 'm', 'd':
		return i + 2
	case 'r', 'v':
		if at(i+2) == 'e' {
			return i + 3
		}
	case 'l':
		if at(i+2) == 'l' {
			return i + 3
		}
	}
	return -1
}

// spaceTail matches the whitespace alternatives `\s+(?!\S)|\s+` at i (a
// whitespace character): the whole run when it ends the text, otherwise the
// run less its last character, which then leads the next piece; a single
// space before a word stays whole.
func spaceTail(s string, i int) int {
	j := runEnd(s, i, unicode.IsSpace)
	if j == len(s) {
		return j
	}
	_, w := utf8.DecodeLastRuneInString(s[:j])
	if j-w > i {
		return j - w
	}
	return j
}

// qwenMatch returns the end of the match of qwenPattern (maxDigits 1) or
// llama3Pattern (maxDigits 3) at i < len(s). Every character starts a match,
// so the matches tile the text.
func qwenMatch(s string, i, maxDigits int) int {
	r, w := runeAt(s, i)
	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if r == '\'' {
		if end := contraction(s, i, true); end > 0 {
			return end
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isL(r) {
		return runEnd(s, i+w, isL)
	}
	if r != '\r' && r != '\n' && !isN(r) {
		if r2, w2 := runeAt(s, i+w); r2 >= 0 && isL(r2) {
			return runEnd(s, i+w+w2, isL)
		}
	}
	// \p{N}{1,maxDigits}
	if isN(r) {
		j := i + w
		for n := 1; n < maxDigits; n++ {
			r2, w2 := runeAt(s, j)
			if r2 < 0 || !isN(r2) {
				break
			}
			j += w2
		}
		return j
	}
	//  ?[^\s\p{L}\p{N}]+[\r\n]*
	start := -1
	if r == ' ' {
		if r2, _ := runeAt(s, i+1); r2 >= 0 && isOther(r2) {
			start = i + 1
		}
	} else if isOther(r) {
		start = i
	}
	if start >= 0 {
		j := runEnd(s, start, isOther)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// r is whitespace. \s*[\r\n]+: the run up to its last line break.
	j := runEnd(s, i, unicode.IsSpace)
	if k := strings.LastIndexAny(s[i:j], "\r\n"); k >= 0 {
		return i + k + 1
	}
	return spaceTail(s, i)
}

// gpt2Match returns the end of the match of gpt2Pattern at i < len(s).
func gpt2Match(s string, i int) int {
	r, w := runeAt(s, i)
	if r == '\'' {
		if end := contraction(s, i, false); end > 0 {
			return end
		}
	}
	for _, class := range [...]func(rune) bool{isL, isN, isOther} {
		if class(r) {
			return runEnd(s, i+w, class)
		}
		if r == ' ' {
			if r2, w2 := runeAt(s, i+1); r2 >= 0 && class(r2) {
				return runEnd(s, i+1+w2, class)
			}
		}
	}
	return spaceTail(s, i)
}

// splitBehavior is what Split does with the matched delimiters.
type splitBehavior int

const (
	splitRemoved splitBehavior = iota
	splitIsolated
	splitMergedWithPrevious
	splitMergedWithNext
	splitContiguous
)

var splitBehaviors = map[string]splitBehavior{
	"Removed":            splitRemoved,
	"Isolated":           splitIsolated,
	"MergedWithPrevious": splitMergedWithPrevious,
	"MergedWithNext":     splitMergedWithNext,
	"Contiguous":         splitContiguous,
}

type splitConfig struct {
	Pattern struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	} `json:"pattern"`
	Behavior string `json:"behavior"`
	Invert   bool   `json:"invert"`
}

// span is a piece of the text, a delimiter (match) or what lies between.
type span struct {
	start, end int
	match      bool
}

// finder appends the non-empty, non-overlapping matches in s, left to right.
type finder func(dst []span, s string) []span

// newSplit reads a Split pre-tokenizer: a String or Regex pattern whose
// matches are delimiters (their complement with invert), then handled by
// behavior as tokenizers' NormalizedString::split does. The byte-level
// families' regexes are matched by hand; other regexes go to Go's regexp,
// with Oniguruma's Unicode \s and \d spelled out and ^ $ matching at line
// breaks; what Go cannot match the same way (lookaround, \w, \b, …) is an
// error.
func newSplit(raw json.RawMessage) (preTokenizer, error) {
	var c splitConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("Split pre-tokenizer: %w", err)
	}
	behavior, ok := splitBehaviors[c.Behavior]
	if !ok {
		return nil, fmt.Errorf("Split pre-tokenizer: unknown behavior %q", c.Behavior)
	}
	var find finder
	switch {
	case c.Pattern.String != nil && c.Pattern.Regex != nil:
		return nil, errors.New("Split pre-tokenizer: pattern has both String and Regex")
	case c.Pattern.String != nil:
		find = literalFinder(*c.Pattern.String)
	case c.Pattern.Regex != nil:
		var err error
		if find, err = regexFinder(*c.Pattern.Regex); err != nil {
			return nil, fmt.Errorf("Split pre-tokenizer: %w", err)
		}
	default:
		return nil, errors.New("Split pre-tokenizer: pattern is neither String nor Regex")
	}
	return func(dst []string, s string) []string {
		if s == "" {
			return dst
		}
		return splitSpans(dst, s, find(nil, s), behavior, c.Invert)
	}, nil
}

// tileFinder turns a matcher whose matches tile the text into a finder.
func tileFinder(match func(s string, i int) int) finder {
	return func(dst []span, s string) []span {
		for i := 0; i < len(s); {
			end := match(s, i)
			dst = append(dst, span{i, end, true})
			i = end
		}
		return dst
	}
}

func literalFinder(lit string) finder {
	return func(dst []span, s string) []span {
		if lit == "" { // tokenizers: an empty pattern matches nothing
			return dst
		}
		for off := 0; ; {
			k := strings.Index(s[off:], lit)
			if k < 0 {
				return dst
			}
			dst = append(dst, span{off + k, off + k + len(lit), true})
			off += k + len(lit)
		}
	}
}

func regexFinder(pattern string) (finder, error) {
	switch pattern {
	case qwenPattern:
		return tileFinder(func(s string, i int) int { return qwenMatch(s, i, 1) }), nil
	case llama3Pattern:
		return tileFinder(func(s string, i int) int { return qwenMatch(s, i, 3) }), nil
	case gpt2Pattern:
		return tileFinder(gpt2Match), nil
	}
	re, err := compileOniguruma(pattern)
	if err != nil {
		return nil, err
	}
	return func(dst []span, s string) []span {
		for _, m := range re.FindAllStringIndex(s, -1) {
			if m[1] > m[0] {
				dst = append(dst, span{m[0], m[1], true})
			}
		}
		return dst
	}, nil
}

// unicodeSpace is the White_Space property, for a character class.
const unicodeSpace = `\t\n\v\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}`

// compileOniguruma compiles an Oniguruma (Ruby syntax) regex with Go's
// regexp where both engines agree on its meaning.
func compileOniguruma(pattern string) (*regexp.Regexp, error) {
	unsupported := func(what string) error {
		return fmt.Errorf("regex %q: %s is not supported (Go's regexp cannot match it as Oniguruma does)", pattern, what)
	}
	var b strings.Builder
	b.WriteString("(?m)") // Oniguruma's ^ and $ always match at line breaks
	inClass := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			i++
			e := pattern[i]
			switch e {
			case 's':
				if inClass {
					b.WriteString(unicodeSpace)
				} else {
					b.WriteString("[" + unicodeSpace + "]")
				}
			case 'S':
				if inClass {
					return nil, unsupported(`\S in a class`)
				}
				b.WriteString("[^" + unicodeSpace + "]")
			case 'd':
				b.WriteString(`\p{Nd}`)
			case 'D':
				b.WriteString(`\P{Nd}`)
			case 'u':
				if i+4 >= len(pattern) {
					return nil, unsupported(`a short \u escape`)
				}
				b.WriteString(`\x{` + pattern[i+1:i+5] + `}`)
				i += 4
			case 'w', 'W', 'b', 'B', 'h', 'H', 'G', 'Z', 'R', 'X', 'K', 'k', 'g':
				return nil, unsupported(`\` + string(e))
			default:
				b.WriteByte(c)
				b.WriteByte(e)
			}
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// A leading ] or ^] is a literal.
			if strings.HasPrefix(pattern[i+1:], "^") {
				b.WriteByte('^')
				i++
			}
			if strings.HasPrefix(pattern[i+1:], "]") {
				b.WriteString(`\]`)
				i++
			}
		case c == '[' && inClass:
			if strings.HasPrefix(pattern[i:], "[:") {
				b.WriteByte(c)
				continue
			}
			return nil, unsupported("a nested character class")
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		case c == '&' && inClass && strings.HasPrefix(pattern[i:], "&&"):
			return nil, unsupported("class intersection")
		case c == '(' && !inClass && strings.HasPrefix(pattern[i:], "(?"):
			rest := pattern[i+2:]
			for _, p := range []string{"=", "!", "<=", "<!", ">", "~"} {
				if strings.HasPrefix(rest, p) {
					return nil, unsupported("(?" + p)
				}
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", pattern, err)
	}
	return re, nil
}

// splitSpans cuts s at the matches, as tokenizers' NormalizedString::split
// with behavior, and appends the non-empty pieces it keeps to dst.
func splitSpans(dst []string, s string, matches []span, behavior splitBehavior, invert bool) []string {
	// Tile s with the matches and the gaps between them.
	all := make([]span, 0, 2*len(matches)+1)
	prev := 0
	for _, m := range matches {
		if m.start > prev {
			all = append(all, span{prev, m.start, false})
		}
		all = append(all, m)
		prev = m.end
	}
	if prev < len(s) {
		all = append(all, span{prev, len(s), false})
	}
	if invert {
		for i := range all {
			all[i].match = !all[i].match
		}
	}
	// keep marks what survives (the fold in tokenizers keeps removal only
	// for Removed).
	type piece struct {
		start, end int
		remove     bool
	}
	pieces := make([]piece, 0, len(all))
	switch behavior {
	case splitIsolated:
		for _, a := range all {
			pieces = append(pieces, piece{a.start, a.end, false})
		}
	case splitRemoved:
		for _, a := range all {
			pieces = append(pieces, piece{a.start, a.end, a.match})
		}
	case splitContiguous:
		previous := false
		for _, a := range all {
			if a.match == previous && len(pieces) > 0 {
				pieces[len(pieces)-1].end = a.end
			} else {
				pieces = append(pieces, piece{a.start, a.end, false})
			}
			previous = a.match
		}
	case splitMergedWithPrevious:
		previous := false
		for _, a := range all {
			if a.match && !previous && len(pieces) > 0 {
				pieces[len(pieces)-1].end = a.end
			} else {
				pieces = append(pieces, piece{a.start, a.end, false})
			}
			previous = a.match
		}
	case splitMergedWithNext:
		previous := false
		for k := len(all) - 1; k >= 0; k-- {
			a := all[k]
			if a.match && !previous && len(pieces) > 0 {
				pieces[len(pieces)-1].start = a.start
			} else {
				pieces = append(pieces, piece{a.start, a.end, false})
			}
			previous = a.match
		}
		for l, r := 0, len(pieces)-1; l < r; l, r = l+1, r-1 {
			pieces[l], pieces[r] = pieces[r], pieces[l]
		}
	}
	for _, p := range pieces {
		if !p.remove && p.end > p.start {
			dst = append(dst, s[p.start:p.end])
		}
	}
	return dst
}
