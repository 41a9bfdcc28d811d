package tokenize

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// wordPiece is a direct implementation of the standard BERT pipeline
// (BertNormalizer, BertPreTokenizer, WordPiece) for tokenizer.json files that
// use exactly that pipeline. sugarme/tokenizer's general pipeline tracks
// offsets through every step and costs ~0.5 ms and 2,500 allocations for a
// 20-word sentence, which would take a visible share of the CPU from the
// model; this path is two orders of magnitude cheaper and is tested to give
// sugarme's ids.
type wordPiece struct {
	vocab         map[string]int64
	unk           int64
	prefix        string
	maxWordChars  int
	cleanText     bool
	chineseChars  bool
	stripAccents  bool
	lowercase     bool
	specialTokens []string // added tokens matched verbatim before normalization
}

// tokenizerJSON is the part of a tokenizer.json the fast path reads.
type tokenizerJSON struct {
	Normalizer *struct {
		Type               string `json:"type"`
		CleanText          bool   `json:"clean_text"`
		HandleChineseChars bool   `json:"handle_chinese_chars"`
		StripAccents       *bool  `json:"strip_accents"`
		Lowercase          bool   `json:"lowercase"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type string `json:"type"`
	} `json:"pre_tokenizer"`
	Model struct {
		Type                    string           `json:"type"`
		UnkToken                string           `json:"unk_token"`
		ContinuingSubwordPrefix string           `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    int              `json:"max_input_chars_per_word"`
		Vocab                   map[string]int64 `json:"vocab"`
	} `json:"model"`
	AddedTokens []struct {
		Content    string `json:"content"`
		Special    bool   `json:"special"`
		Normalized bool   `json:"normalized"`
	} `json:"added_tokens"`
}

// newWordPiece returns the fast path for raw, or nil when the file's pipeline
// is not the standard BERT one.
func newWordPiece(raw []byte) (*wordPiece, error) {
	var doc tokenizerJSON
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	n := doc.Normalizer
	if n == nil || n.Type != "BertNormalizer" || doc.PreTokenizer == nil || doc.PreTokenizer.Type != "BertPreTokenizer" || doc.Model.Type != "WordPiece" {
		return nil, nil
	}
	unk, ok := doc.Model.Vocab[doc.Model.UnkToken]
	if !ok {
		return nil, fmt.Errorf("unk token %q is not in the vocabulary", doc.Model.UnkToken)
	}
	wp := &wordPiece{vocab: doc.Model.Vocab, unk: unk, prefix: doc.Model.ContinuingSubwordPrefix,
		maxWordChars: doc.Model.MaxInputCharsPerWord, cleanText: n.CleanText, chineseChars: n.HandleChineseChars,
		lowercase: n.Lowercase, stripAccents: n.Lowercase}
	if n.StripAccents != nil { // null means "follow lowercase", as Hugging Face reads it
		wp.stripAccents = *n.StripAccents
	}
	if wp.maxWordChars <= 0 {
		wp.maxWordChars = 100
	}
	for _, t := range doc.AddedTokens {
		if t.Special && !t.Normalized {
			if _, ok := wp.vocab[t.Content]; ok {
				wp.specialTokens = append(wp.specialTokens, t.Content)
			}
		}
	}
	return wp, nil
}

// encode appends the ids of text (without [CLS]/[SEP]) to ids.
func (wp *wordPiece) encode(text string, ids []int64) []int64 {
	for text != "" {
		at, token := wp.nextSpecial(text)
		ids = wp.encodeSegment(text[:at], ids)
		if token == "" {
			break
		}
		ids = append(ids, wp.vocab[token])
		text = text[at+len(token):]
	}
	return ids
}

// nextSpecial finds the first special token in text.
func (wp *wordPiece) nextSpecial(text string) (at int, token string) {
	at = len(text)
	for _, t := range wp.specialTokens {
		if i := strings.Index(text[:min(len(text), at+len(t))], t); i >= 0 && i < at {
			at, token = i, t
		}
	}
	return at, token
}

func (wp *wordPiece) encodeSegment(text string, ids []int64) []int64 {
	normalized := wp.normalize(text)
	start := -1
	for i, r := range normalized {
		switch {
		case r == ' ':
			if start >= 0 {
				ids = wp.encodeWord(normalized[start:i], ids)
				start = -1
			}
		case isBertPunctuation(r):
			if start >= 0 {
				ids = wp.encodeWord(normalized[start:i], ids)
				start = -1
			}
			ids = wp.encodeWord(normalized[i:i+utf8.RuneLen(r)], ids)
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		ids = wp.encodeWord(normalized[start:], ids)
	}
	return ids
}

// normalize applies BertNormalizer in Hugging Face's order: clean text,
// isolate CJK characters, strip accents, lowercase. Whitespace of any kind
// becomes a single ' ' per character, which the pre-tokenizer splits on.
func (wp *wordPiece) normalize(text string) string {
	if wp.stripAccents {
		text = norm.NFD.String(text)
	}
	var b strings.Builder
	b.Grow(len(text) + 8)
	for _, r := range text {
		if wp.cleanText {
			if r == 0 || r == utf8.RuneError || isControl(r) {
				continue
			}
		}
		if isWhitespace(r) {
			b.WriteByte(' ')
			continue
		}
		if wp.stripAccents && unicode.Is(unicode.Mn, r) {
			continue
		}
		if wp.lowercase {
			r = unicode.ToLower(r)
		}
		if wp.chineseChars && isChineseChar(r) {
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// encodeWord is WordPiece's greedy longest-match-first split.
func (wp *wordPiece) encodeWord(word string, ids []int64) []int64 {
	if utf8.RuneCountInString(word) > wp.maxWordChars {
		return append(ids, wp.unk)
	}
	mark := len(ids)
	var buf []byte
	for start := 0; start < len(word); {
		end, found := len(word), int64(-1)
		for end > start {
			piece := word[start:end]
			if start > 0 {
				buf = append(append(buf[:0], wp.prefix...), piece...)
				piece = string(buf) // the map lookup below does not allocate for string(buf)
			}
			if id, ok := wp.vocab[piece]; ok {
				found = id
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found < 0 {
			return append(ids[:mark], wp.unk)
		}
		ids = append(ids, found)
		start = end
	}
	return ids
}

func isWhitespace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.White_Space, r)
}

// isControl is Hugging Face's: the "other" categories, except \t \n \r.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C)
}

func isBertPunctuation(r rune) bool {
	// Rust's is_ascii_punctuation counts ASCII symbols such as $ + < = > ^ ` | ~ too.
	return unicode.IsPunct(r) || (r < 0x80 && unicode.IsSymbol(r))
}

func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
