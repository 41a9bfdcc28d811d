package embeddinggemma

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// tokenizer is what the backend needs of a Hugging Face tokenizer.json
// (tokenize/hf's Tokenizer): ids with the special tokens included (<bos>
// text <eos> for Gemma), truncated to maxTokens keeping them, the untruncated
// count, and the id padding uses.
type tokenizer interface {
	Encode(text string, maxTokens int) (ids []int64, full int, truncated bool, err error)
	PadID() int64
}

// loadTokenizer reads a model directory's tokenizer.json.
var loadTokenizer = func(path string) (tokenizer, error) { return loadStandIn(path) }

// standIn is a STAND-IN for tokenize/hf, which is being written alongside:
// greedy longest-match over the vocabulary after Gemma's space-to-▁
// normalization, byte fallback, <bos> … <eos>. It is not Gemma's BPE and goes
// away when tokenize/hf lands.
type standIn struct {
	vocab              map[string]int64
	bos, eos, pad, unk int64
	longest            int // in bytes
}

func loadStandIn(path string) (*standIn, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tj struct {
		Model struct {
			Vocab map[string]int64 `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(raw, &tj); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	t := &standIn{vocab: tj.Model.Vocab}
	for tok, dst := range map[string]*int64{"<bos>": &t.bos, "<eos>": &t.eos, "<pad>": &t.pad, "<unk>": &t.unk} {
		id, ok := t.vocab[tok]
		if !ok {
			return nil, fmt.Errorf("tokenizer.json has no %s", tok)
		}
		*dst = id
	}
	for piece := range t.vocab {
		t.longest = max(t.longest, len(piece))
	}
	return t, nil
}

func (t *standIn) PadID() int64 { return t.pad }

func (t *standIn) Encode(text string, maxTokens int) ([]int64, int, bool, error) {
	if !utf8.ValidString(text) {
		return nil, 0, false, fmt.Errorf("invalid UTF-8")
	}
	s := strings.ReplaceAll(text, " ", "▁")
	ids := []int64{t.bos}
	for len(s) > 0 {
		n := min(len(s), t.longest)
		for ; n > 0; n-- {
			if id, ok := t.vocab[s[:n]]; ok && utf8.ValidString(s[:n]) {
				ids = append(ids, id)
				break
			}
		}
		if n == 0 { // byte fallback for one rune
			_, size := utf8.DecodeRuneInString(s)
			for _, b := range []byte(s[:size]) {
				id, ok := t.vocab[fmt.Sprintf("<0x%02X>", b)]
				if !ok {
					id = t.unk
				}
				ids = append(ids, id)
			}
			n = size
		}
		s = s[n:]
	}
	ids = append(ids, t.eos)
	full := len(ids)
	if full <= maxTokens {
		return ids, full, false, nil
	}
	ids = append(ids[:maxTokens-1], t.eos)
	return ids, full, true, nil
}
