package bert

import (
	"encoding/json"
	"os"
	"strings"
)

// STAND-IN until tokenize/hf lands: a whitespace tokenizer over the
// synthetic stand-in Unigram vocabulary ("▁word" pieces), with XLM-R's
// special tokens and pair template. Deleted when the real one is wired in.
type standInUnigram struct {
	pieces map[string]int64
}

func init() {
	loadUnigram = func(path string) (pairTokenizer, error) {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Model struct {
				Vocab [][2]any `json:"vocab"`
			} `json:"model"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, err
		}
		s := standInUnigram{pieces: map[string]int64{}}
		for i, p := range doc.Model.Vocab {
			s.pieces[p[0].(string)] = int64(i)
		}
		return s, nil
	}
}

func (s standInUnigram) words(text string) []int64 {
	var ids []int64
	for _, w := range strings.Fields(text) {
		id, ok := s.pieces["▁"+w]
		if !ok {
			id = 3
		}
		ids = append(ids, id)
	}
	return ids
}

func (s standInUnigram) Encode(text string, maxTokens int) ([]int64, int, bool, error) {
	w := s.words(text)
	full := len(w) + 2
	if full > maxTokens {
		w = w[:maxTokens-2]
	}
	return append(append([]int64{0}, w...), 2), full, full > maxTokens, nil
}

func (s standInUnigram) EncodePair(a, b string, maxTokens int) ([]int64, int, bool, error) {
	wa, wb := s.words(a), s.words(b)
	full := len(wa) + len(wb) + 4
	for len(wa)+len(wb)+4 > maxTokens {
		if len(wa) > len(wb) {
			wa = wa[:len(wa)-1]
		} else {
			wb = wb[:len(wb)-1]
		}
	}
	ids := append(append([]int64{0}, wa...), 2, 2)
	return append(append(ids, wb...), 2), full, full > maxTokens, nil
}
