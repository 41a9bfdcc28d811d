package qwen3embed

import (
	"encoding/json"
	"fmt"
	"os"
	"unicode"
	"unicode/utf8"
)

// endOfText is the token Qwen3-Embedding pools: the model was trained to
// sum a text up in the hidden state of a final <|endoftext|>.
const endOfText = "<|endoftext|>"

// tokenizer is what the backend needs of a Hugging Face tokenizer.json
// (tokenize/hf's Tokenizer): ids with the special tokens the file's
// post-processor adds, truncated to maxTokens keeping them, the untruncated
// count, a special token's id, and the id padding uses.
type tokenizer interface {
	Encode(text string, maxTokens int) (ids []int64, full int, truncated bool, err error)
	TokenID(token string) (int64, bool)
	PadID() int64
}

// loadTokenizer reads a model directory's tokenizer.json.
var loadTokenizer = func(path string) (tokenizer, error) { return loadStandIn(path) }

// standIn is a STAND-IN for tokenize/hf, which is being written alongside:
// GPT-2's byte-to-character map, a split before each space or newline,
// greedy longest match over the vocabulary, and the special tokens after
// the text that the file's TemplateProcessing names. It is not Qwen's BPE
// and goes away when tokenize/hf lands.
type standIn struct {
	vocab   map[string]int64
	added   map[string]int64
	suffix  []int64 // special tokens the post-processor appends
	pad     int64
	longest int // in bytes
	alpha   [256]rune
}

func loadStandIn(path string) (*standIn, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tj struct {
		AddedTokens []struct {
			ID      int64  `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
		PostProcessor *struct {
			Type   string `json:"type"`
			Single []struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
			} `json:"single"`
		} `json:"post_processor"`
		Model struct {
			Vocab map[string]int64 `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(raw, &tj); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	t := &standIn{vocab: tj.Model.Vocab, added: map[string]int64{}}
	for _, a := range tj.AddedTokens {
		t.added[a.Content] = a.ID
	}
	pad, ok := t.added[endOfText]
	if !ok {
		return nil, fmt.Errorf("tokenizer.json has no %s", endOfText)
	}
	t.pad = pad
	if pp := tj.PostProcessor; pp != nil && pp.Type == "TemplateProcessing" {
		for _, piece := range pp.Single {
			if piece.SpecialToken != nil {
				id, ok := t.added[piece.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("tokenizer.json post-processor names unknown token %s", piece.SpecialToken.ID)
				}
				t.suffix = append(t.suffix, id)
			}
		}
	}
	for piece := range t.vocab {
		t.longest = max(t.longest, len(piece))
	}
	next := rune(256)
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			t.alpha[b] = rune(b)
		} else {
			t.alpha[b] = next
			next++
		}
	}
	return t, nil
}

func (t *standIn) PadID() int64 { return t.pad }

func (t *standIn) TokenID(token string) (int64, bool) {
	if id, ok := t.added[token]; ok {
		return id, true
	}
	id, ok := t.vocab[token]
	return id, ok
}

func (t *standIn) Encode(text string, maxTokens int) ([]int64, int, bool, error) {
	if !utf8.ValidString(text) {
		return nil, 0, false, fmt.Errorf("invalid UTF-8")
	}
	var ids []int64
	start := 0
	for i, r := range text {
		if i > start && unicode.IsSpace(r) {
			ids = t.word(ids, text[start:i])
			start = i
		}
	}
	if start < len(text) {
		ids = t.word(ids, text[start:])
	}
	ids = append(ids, t.suffix...)
	full := len(ids)
	if full <= maxTokens {
		return ids, full, false, nil
	}
	keep := max(maxTokens-len(t.suffix), 0)
	ids = append(ids[:keep], t.suffix...)[:maxTokens]
	return ids, full, true, nil
}

// word appends the pieces of one chunk, in byte-level characters.
func (t *standIn) word(ids []int64, chunk string) []int64 {
	var mapped []rune
	for _, b := range []byte(chunk) {
		mapped = append(mapped, t.alpha[b])
	}
	s := string(mapped)
	for len(s) > 0 {
		n := min(len(s), t.longest)
		for ; n > 0; n-- {
			if id, ok := t.vocab[s[:n]]; ok && utf8.ValidString(s[:n]) {
				ids = append(ids, id)
				break
			}
		}
		if n == 0 { // not in this vocabulary: skip one character
			_, n = utf8.DecodeRuneInString(s)
		}
		s = s[n:]
	}
	return ids
}
