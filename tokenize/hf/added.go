package hf

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is one entry of tokenizer.json's added_tokens.
type addedToken struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

// isNormalized: the library defaults normalized to !special.
func (a addedToken) isNormalized() bool {
	if a.Normalized != nil {
		return *a.Normalized
	}
	return !a.Special
}

// part is a piece of text, or an added token (id ≥ 0) matched in it; start
// is its byte offset in the text split.
type part struct {
	text  string
	id    int64
	start int
}

// addedMatcher finds added tokens in text the way the library's
// AddedVocabulary does: leftmost-longest matches (Aho-Corasick,
// LeftmostLongest), a single_word token only between non-word characters,
// lstrip/rstrip taking the whitespace beside the token with it.
type addedMatcher struct {
	tokens []addedToken
	// trie over the tokens' bytes: node 0 is the root.
	next []map[byte]int32
	tok  []int32 // token index ending at the node, or -1
	// starts marks the bytes a token can start with: other positions are
	// skipped without a trie walk.
	starts [256]bool
}

func newAddedMatcher(tokens []addedToken) *addedMatcher {
	if len(tokens) == 0 {
		return nil
	}
	m := &addedMatcher{tokens: tokens, next: []map[byte]int32{{}}, tok: []int32{-1}}
	for i, a := range tokens {
		m.starts[a.Content[0]] = true
		n := int32(0)
		for j := 0; j < len(a.Content); j++ {
			c, ok := m.next[n][a.Content[j]]
			if !ok {
				c = int32(len(m.next))
				m.next = append(m.next, map[byte]int32{})
				m.tok = append(m.tok, -1)
				m.next[n][a.Content[j]] = c
			}
			n = c
		}
		// A repeated content keeps its last entry, as the library's map does.
		m.tok[n] = int32(i)
	}
	return m
}

// longestAt is the longest token that starts s, or -1.
func (m *addedMatcher) longestAt(s string) (tok, length int) {
	tok, n := -1, int32(0)
	for j := 0; j < len(s); j++ {
		c, ok := m.next[n][s[j]]
		if !ok {
			break
		}
		n = c
		if m.tok[n] >= 0 {
			tok, length = int(m.tok[n]), j+1
		}
	}
	return tok, length
}

// split cuts text into plain parts (id -1) and added tokens. A nil matcher
// returns the text whole; empty text gives one empty part, as the library
// does.
func (m *addedMatcher) split(text string) []part {
	if m == nil || text == "" {
		return []part{{text: text, id: -1}}
	}
	var parts []part
	startOffset := 0
	for pos := 0; pos < len(text); {
		if !m.starts[text[pos]] {
			pos++
			continue
		}
		tok, l := m.longestAt(text[pos:])
		if tok < 0 {
			pos++
			continue
		}
		start, stop := pos, pos+l
		pos = stop
		a := m.tokens[tok]
		if a.SingleWord {
			startSpace := start == 0 || !endsWithWord(text[:start])
			stopSpace := stop == len(text) || !startsWithWord(text[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if a.LStrip {
			start = max(len(strings.TrimRightFunc(text[:start], unicode.IsSpace)), startOffset)
		}
		if a.RStrip {
			rest := text[stop:]
			stop += len(rest) - len(strings.TrimLeftFunc(rest, unicode.IsSpace))
		}
		if startOffset < start {
			parts = append(parts, part{text: text[startOffset:start], id: -1, start: startOffset})
		}
		parts = append(parts, part{text: text[start:stop], id: a.ID, start: start})
		startOffset = stop
		// The library's match iterator resumes after the token itself,
		// before any whitespace rstrip took.
	}
	if startOffset < len(text) {
		parts = append(parts, part{text: text[startOffset:], id: -1, start: startOffset})
	}
	return parts
}

// isWordRune is Rust regex's Unicode \w: Alphabetic, marks, decimal
// digits, connector punctuation and Join_Control.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.In(r, unicode.Nl, unicode.Other_Alphabetic, unicode.M,
		unicode.Nd, unicode.Pc, unicode.Join_Control)
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isWordRune(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWordRune(r)
}
