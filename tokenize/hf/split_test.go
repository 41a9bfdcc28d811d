package hf

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dlclark/regexp2"
)

func mustSplit(t testing.TB, raw string) preTokenizer {
	t.Helper()
	p, err := newSplit(json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The behaviors on tokenizers' own example (NormalizedString::split's doc:
// "the-final--countdown" split on '-').
func TestSplitBehaviors(t *testing.T) {
	want := map[string][]string{
		"Removed":            {"the", "final", "countdown"},
		"Isolated":           {"the", "-", "final", "-", "-", "countdown"},
		"MergedWithPrevious": {"the-", "final-", "-", "countdown"},
		"MergedWithNext":     {"the", "-final", "-", "-countdown"},
		"Contiguous":         {"the", "-", "final", "--", "countdown"},
	}
	for behavior, w := range want {
		for _, pattern := range []string{`{"String":"-"}`, `{"Regex":"-"}`} {
			p := mustSplit(t, `{"type":"Split","pattern":`+pattern+`,"behavior":"`+behavior+`","invert":false}`)
			if got := p(nil, "the-final--countdown"); !slices.Equal(got, w) {
				t.Errorf("%s %s: got %q, want %q", behavior, pattern, got, w)
			}
		}
	}
}

func TestSplitInvert(t *testing.T) {
	// Inverted, the words are the delimiters: Removed keeps the spaces.
	p := mustSplit(t, `{"type":"Split","pattern":{"String":" "},"behavior":"Removed","invert":true}`)
	if got, want := p(nil, "ab  cd"), []string{" ", " "}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// Gemma's split after its normalizer: no space is left, one piece.
	p = mustSplit(t, `{"type":"Split","pattern":{"String":" "},"behavior":"MergedWithPrevious","invert":false}`)
	if got, want := p(nil, "Hello▁world"), []string{"Hello▁world"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := p(nil, "a b  c"), []string{"a ", "b ", " ", "c"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func qwenSplit(t testing.TB) preTokenizer {
	raw, _ := json.Marshal(map[string]any{"type": "Split", "pattern": map[string]string{"Regex": qwenPattern}, "behavior": "Isolated", "invert": false})
	return mustSplit(t, string(raw))
}

// Hand-checked pieces of the Qwen2 pattern, one alternative at a time.
func TestSplitQwenPattern(t *testing.T) {
	p := qwenSplit(t)
	cases := map[string][]string{
		"Hello world":    {"Hello", " world"},
		"I'm here":       {"I", "'m", " here"},
		"DON'T":          {"DON", "'T"},       // (?i:…)
		"we'RE'x":        {"we", "'RE", "'x"}, // 'x is no contraction: [^…]?\p{L}+
		"1234":           {"1", "2", "3", "4"},
		"x  \n y":        {"x", "  \n", " y"}, // \s*[\r\n]+ then " y"
		"a\n\nb":         {"a", "\n\n", "b"},
		"hi!!\n\nthere":  {"hi", "!!\n\n", "there"},
		"  hi":           {" ", " hi"}, // \s+(?!\S) leaves one space to the word
		"end  ":          {"end", "  "},
		"a ,b":           {"a", " ,", "b"},
		"(x)":            {"(x", ")"},
		"你好世界。":          {"你好世界", "。"},
		"\tword":         {"\tword"},
		"\u3000\u3000字":  {"\u3000", "\u3000字"},
		"12ab":           {"1", "2", "ab"},
		"über 2 Straßen": {"über", " ", "2", " Straßen"},
		"":               nil,
	}
	for in, want := range cases {
		if got := p(nil, in); !slices.Equal(got, want) {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// reference compiles a pattern for regexp2 (a backtracking engine with
// lookahead, .NET syntax): (?i:…) is spelled with explicit ASCII cases as
// transformers.js does.
func reference(pattern string) *regexp2.Regexp {
	pattern = strings.Replace(pattern, `(?i:'s|'t|'re|'ve|'m|'ll|'d)`, `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`, 1)
	return regexp2.MustCompile(pattern, regexp2.None)
}

func referenceSplit(re *regexp2.Regexp, s string) []string {
	var out []string
	r := []rune(s)
	prev := 0
	for m, _ := re.FindRunesMatch(r); m != nil; m, _ = re.FindNextMatch(m) {
		if m.Index > prev {
			out = append(out, string(r[prev:m.Index]))
		}
		out = append(out, m.String())
		prev = m.Index + m.Length
	}
	if prev < len(r) {
		out = append(out, string(r[prev:]))
	}
	return out
}

// trickyRunes mixes every class the patterns distinguish: ASCII and other
// letters, digits of several scripts and other numbers, white space of all
// kinds (line breaks included), apostrophes and contraction letters,
// punctuation, symbols, marks and emoji.
var trickyRunes = []rune("aZsStTrReEvVmMlLdD'' '\n\r\t\v\f\u0085\u00a0\u2028\u3000\u2003" +
	"0959٣²Ⅻ½é漢字кشअा\u0301\u200d.,!?-_\"(){}#🙂👍🏽\ufeff")

func randomText(rng *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(trickyRunes[rng.IntN(len(trickyRunes))])
	}
	return b.String()
}

// The hand-written matchers give the pieces a backtracking regex engine
// gives, on random text over the characters that matter.
func TestSplitPatternsMatchRegexEngine(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		pattern string
		split   func(s string) []string
	}{
		{qwenPattern, func(s string) []string {
			return splitSpans(nil, s, tileFinder(func(s string, i int) int { return qwenMatch(s, i, 1) })(nil, s), splitIsolated, false)
		}},
		{llama3Pattern, func(s string) []string {
			return splitSpans(nil, s, tileFinder(func(s string, i int) int { return qwenMatch(s, i, 3) })(nil, s), splitIsolated, false)
		}},
		{gpt2Pattern, func(s string) []string {
			return splitSpans(nil, s, tileFinder(gpt2Match)(nil, s), splitIsolated, false)
		}},
	} {
		re := reference(c.pattern)
		for range 3000 {
			s := randomText(rng, 1+rng.IntN(24))
			want := referenceSplit(re, s)
			if got := c.split(s); !slices.Equal(got, want) {
				t.Fatalf("%s\n%q: got %q, want %q", c.pattern, s, got, want)
			}
		}
	}
}

func TestSplitOtherRegexes(t *testing.T) {
	cases := []struct {
		regex, behavior, in string
		want                []string
	}{
		{`\d+`, "Isolated", "ab١٢٣cd", []string{"ab", "١٢٣", "cd"}},   // Unicode \d
		{`\s+`, "Removed", "a\u3000b  c", []string{"a", "b", "c"}},    // Unicode \s
		{`[\s,]+`, "Removed", "a, b\u00a0c", []string{"a", "b", "c"}}, // \s in a class
		{`^x`, "Isolated", "xa\nxb", []string{"x", "a\n", "x", "b"}},  // ^ at line starts
		{`\p{N}`, "MergedWithNext", "a1b2", []string{"a", "1b", "2"}},
		{`\u0041`, "Isolated", "bAb", []string{"b", "A", "b"}},
	}
	for _, c := range cases {
		raw, _ := json.Marshal(map[string]any{"type": "Split", "pattern": map[string]string{"Regex": c.regex}, "behavior": c.behavior, "invert": false})
		p := mustSplit(t, string(raw))
		if got := p(nil, c.in); !slices.Equal(got, c.want) {
			t.Errorf("%s %s %q: got %q, want %q", c.regex, c.behavior, c.in, got, c.want)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	for _, raw := range []string{
		`{"type":"Split","pattern":{"Regex":"a(?=b)"},"behavior":"Isolated","invert":false}`,
		`{"type":"Split","pattern":{"Regex":"(?<!a)b"},"behavior":"Isolated","invert":false}`,
		`{"type":"Split","pattern":{"Regex":"\\w+"},"behavior":"Isolated","invert":false}`,
		`{"type":"Split","pattern":{"Regex":"a\\b"},"behavior":"Isolated","invert":false}`,
		`{"type":"Split","pattern":{"Regex":"[a-z&&[^b]]"},"behavior":"Isolated","invert":false}`,
		`{"type":"Split","pattern":{"Regex":"a++"},"behavior":"Isolated","invert":false}`,
		`{"type":"Split","pattern":{"Regex":"("},"behavior":"Isolated","invert":false}`,
		`{"type":"Split","pattern":{"String":" "},"behavior":"Sideways","invert":false}`,
		`{"type":"Split","pattern":{},"behavior":"Isolated","invert":false}`,
		`{"type":"Split","pattern":{"String":" ","Regex":" "},"behavior":"Isolated"}`,
		`{"type":"Split","pattern":"x"}`,
	} {
		if _, err := newSplit(json.RawMessage(raw)); err == nil {
			t.Errorf("%s: no error", raw)
		}
	}
}

func TestByteLevelAlphabet(t *testing.T) {
	// GPT-2's well-known spellings.
	for b, want := range map[byte]string{' ': "Ġ", '\n': "Ċ", '\t': "ĉ", 0: "Ā", 'A': "A", '~': "~", 0x7F: "ġ", 0xA0: "ł", 0xAD: "Ń", 0xC3: "Ã", 0xFF: "ÿ"} {
		if got := byteLevelChar[b]; got != want {
			t.Errorf("byte %#x: got %q, want %q", b, got, want)
		}
	}
	seen := map[string]bool{}
	for _, c := range byteLevelChar {
		if seen[c] {
			t.Fatalf("%q spells two bytes", c)
		}
		seen[c] = true
	}
}

func TestByteLevel(t *testing.T) {
	cases := []struct {
		config, in string
		want       []string
	}{
		{`{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}`, "Hello world", []string{"HelloĠworld"}},
		{`{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}`, "é\n", []string{"Ã©Ċ"}},
		{`{"type":"ByteLevel","add_prefix_space":true,"use_regex":true}`, "Hello world", []string{"ĠHello", "Ġworld"}},
		{`{"type":"ByteLevel","add_prefix_space":true,"use_regex":true}`, " it's", []string{"Ġit", "'s"}},
		{`{"type":"ByteLevel","add_prefix_space":false,"use_regex":true}`, "a  b!?", []string{"a", "Ġ", "Ġb", "!?"}},
		{`{"type":"ByteLevel"}`, "x", []string{"Ġx"}}, // tokenizers' defaults: prefix space and regex on
		{`{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}`, "", nil},
	}
	for _, c := range cases {
		p, err := newByteLevel(json.RawMessage(c.config))
		if err != nil {
			t.Fatal(err)
		}
		if got := p(nil, c.in); !slices.Equal(got, c.want) {
			t.Errorf("%s %q: got %q, want %q", c.config, c.in, got, c.want)
		}
	}
	if _, err := newByteLevel(json.RawMessage(`{"add_prefix_space":"yes"}`)); err == nil {
		t.Error("bad add_prefix_space: no error")
	}
}
