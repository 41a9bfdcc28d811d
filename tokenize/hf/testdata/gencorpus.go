//go:build ignore

// Writes corpus.txt, the multilingual text the tokenizer parity tests encode
// (see README.md beside it). Deterministic: run from the repository root,
//
//	go run tokenize/hf/testdata/gencorpus.go
//
// and the file comes out byte for byte the same. Its sentences are the
// synthetic tokenizers' training text (models/synth/assets/xlmr/sentences.txt
// and models/synth/assets/m2m100/corpus.txt), recombined and perturbed the
// ways real input is: other scripts mixed in, numbers, emoji, runs of
// whitespace, full-width and decomposed forms, combining marks, control and
// invisible characters, special-token strings, and lines far past 512
// tokens.
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const out = "tokenize/hf/testdata/corpus.txt"

var sources = []string{"models/synth/assets/xlmr/sentences.txt", "models/synth/assets/m2m100/corpus.txt"}

// Fragments the perturbations draw from.
var (
	numbers = []string{"0", "7", "42", "1024", "3.14159", "1,234,567.89", "1.234.567,89", "-273.15", "2026-03-14",
		"14:30", "+44 20 7946 0958", "#12345", "50%", "$19.99", "€4,50", "¥1200", "£3", "1e-9", "0x1F600", "v2.3.1",
		"½", "¾", "²", "³", "①②③", "Ⅻ", "٣٤٥", "१२३", "๑๒๓", "一二三", "１２３４", "9⁄10", "10⁶", "x₁+x₂"}
	emoji = []string{"🙂", "😀", "👍", "👍🏽", "👋🏿", "❤️", "🔥", "🎉", "🇫🇷", "🇯🇵", "🇺🇸", "🏳️‍🌈", "👨‍👩‍👧‍👦",
		"👩🏽‍💻", "🧑‍🚀", "1️⃣", "#️⃣", "☕", "✅", "⚠️", "🐈‍⬛", "🫠", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "😂😂😂", "🤷‍♀️"}
	spaces = []string{"  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \t ", "\u00a0", "\u3000", "\u2003",
		"\u200b", "\u2009", " \n \n ", "\u2028", "\u0085", "\u180e", "\u202f"}
	controls = []string{"\u0000", "\u0001", "\u0007", "\u0008", "\u000b", "\u000c", "\u001b", "\u007f", "\u0080",
		"\u008f", "\u009f", "\u00ad", "\u200c", "\u200d", "\u200e", "\u202e", "\u2066", "\ufeff", "\ufffd", "\ue000",
		"\U000f0000", "\u2581", "\u0378", "\U0001d400"}
	special = []string{"<mask>", " <mask>", "<mask> ", "  <mask>  ", "<s>", "</s>", "<pad>", "<unk>", "<mask><mask>",
		"<s ", "</s", "<MASK>", "＜mask＞", "<mask>.", "mask"}
	odd = []string{"ｶﾞｷﾞｸﾞ", "ﾊﾟﾝ", "ﬁle ﬂow", "㎏ ㎞ ㎡", "™ ℃ ℉ №", "Å Ω K", "㈱ ㍻", "ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ",
		"ﾃﾞｰﾀ", "ﻻ ﻷ ﷺ", "ﷲ", "각", "한글", "ﾊﾝｸﾞﾙ", "Ǆ ǅ ǆ", "ŉ", "ſt", "ẞ ß", "İstanbul ıi", "ΐ ΰ",
		"Ａ\u0301", "e\u0301\u0301", "a\u0308\u0304", "n\u0303", "ท\u0e33", "ก\u0e4dา", "क\u093c", "अ\u0901",
		"ا\u064b\u0651", "ש\u05bc\u05c1", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇", "\u0301start", "\u0e33", "～", "〜", "ー", "…", "‥",
		"‘quotes’ “double” «guillemets» „low“", "—–-‐", "• · ∙", "→ ⇒ ⟶", "∑∫√∞≠≤", "𝐁𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐", "ℌ𝔢𝔩𝔩𝔬",
		"Ⓐⓑⓒ", "⑴ ⒈", "㊙", "🄰🄱", "\U00020000\U0002a6d6", "𠮷野家", "ǅungla", "ﬀ ﬃ", "ℵ", "µ μ"}
	words = []string{"hello", "WORLD", "Hello,world!", "e-mail", "don't", "C++", "naïve", "café", "résumé", "Zürich",
		"São Paulo", "Kraków", "Đà Nẵng", "snake_case", "camelCase", "CONSTANT", "https://example.com/a?b=c&d=e",
		"user@example.org", "#hashtag", "@mention", "file.tar.gz", "~/path/to", "C:\\Windows", "[1] (2) {3}", "a/b/c",
		"...", "!!!", "???", "----", "____", "====", "\"quoted\"", "'single'", "`code`", "<div>", "</p>", "&amp;"}
)

func main() {
	var sents []string
	for _, src := range sources {
		raw, err := os.ReadFile(src)
		if err != nil {
			fmt.Fprintln(os.Stderr, "run from the repository root:", err)
			os.Exit(1)
		}
		for _, l := range strings.Split(string(raw), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "# ") {
				sents = append(sents, l)
			}
		}
	}
	rng := rand.New(rand.NewPCG(20, 0x786c6d72))
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	// insert puts frag at a random rune boundary of s (or at a word gap).
	insert := func(s, frag string) string {
		runes := []rune(s)
		i := rng.IntN(len(runes) + 1)
		if rng.IntN(2) == 0 {
			if j := strings.LastIndex(string(runes[:i]), " "); j >= 0 {
				return s[:j] + " " + frag + s[j:]
			}
		}
		return string(runes[:i]) + frag + string(runes[i:])
	}
	fullWidth := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r > ' ' && r < 0x7f {
				return r - 0x21 + 0xff01
			}
			if r == ' ' {
				return 0x3000
			}
			return r
		}, s)
	}
	var lines []string
	add := func(s string) { lines = append(lines, s) }

	// Fixed edge cases first.
	for _, s := range []string{"", " ", "   ", "\t", "\n", "a", "▁", "▁▁a", " leading", "trailing ", "  both  ",
		"<mask>", "<s></s>", "hello <mask> world", "hello<mask>world", "hello  <mask>  world", "<unk>", "\u0001",
		"\u0001\u0002", "a\u0001b", "\ufffd", "\r\n", "a\r\nb", "x\u200by", "🙂", "👨‍👩‍👧‍👦", "1234567890",
		"ｶﾞ", "Ａ\u0301", strings.Repeat("a", 600), strings.Repeat("ab ", 300), strings.Repeat("🙂", 300),
		strings.Repeat("東京", 400), strings.Repeat("\u0301", 40), strings.Repeat(" ", 100) + "x"} {
		add(s)
	}
	for _, s := range sents {
		add(s)
		add(norm.NFD.String(s))
	}
	for _, set := range [][]string{numbers, emoji, special, odd, words, controls} {
		for _, f := range set {
			add(f)
			add(insert(pick(sents), f))
		}
	}
	for len(lines) < 5200 {
		s := pick(sents)
		switch k := rng.IntN(14); k {
		case 0: // code-switching
			s += " " + pick(sents)
		case 1:
			s = insert(s, pick(numbers))
		case 2:
			s = insert(insert(s, pick(emoji)), pick(emoji))
		case 3:
			s = insert(insert(s, pick(spaces)), pick(spaces))
		case 4:
			s = fullWidth(s)
		case 5:
			s = norm.NFD.String(s)
		case 6:
			s = insert(s, pick(controls))
		case 7:
			s = insert(s, pick(special))
		case 8:
			s = insert(s, pick(odd))
		case 9:
			s = insert(s, pick(words))
		case 10: // lines far past 512 tokens
			n := 20 + rng.IntN(30)
			parts := make([]string, n)
			for i := range parts {
				parts[i] = pick(sents)
			}
			s = strings.Join(parts, pick([]string{" ", "\n", "  ", " \t"}))
		case 11:
			s = strings.ToUpper(s)
		case 12: // several perturbations at once
			for range 3 + rng.IntN(4) {
				s = insert(s, pick([][]string{numbers, emoji, spaces, controls, special, odd, words}[rng.IntN(7)]))
			}
		case 13: // short fragment
			r := []rune(s)
			i := rng.IntN(len(r))
			s = string(r[i:min(len(r), i+1+rng.IntN(12))])
		}
		add(s)
	}
	var b strings.Builder
	b.WriteString("# edgeinfer tokenizer parity corpus, generated by gencorpus.go; format in README.md\n")
	for _, l := range lines {
		b.WriteString(escape(l))
		b.WriteByte('\n')
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d lines to %s\n", len(lines), out)
}

// escape writes one text as one line: backslash, newline, carriage return
// and tab as \\ \n \r \t; other control, format, separator and
// private-use characters as \u{HEX}; everything else as UTF-8.
func escape(s string) string {
	if !utf8.ValidString(s) {
		panic("invalid UTF-8 in corpus line")
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0x85 || r == 0x2028 || r == 0x2029 ||
			(r >= 0x200b && r <= 0x200f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
			r == 0xfeff || r == 0xad || (r >= 0xe000 && r <= 0xf8ff) || r >= 0xf0000:
			fmt.Fprintf(&b, `\u{%x}`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
