package bert

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/edgeinfer/edgeinfer/tokenize"
)

// tokenizer turns a text into ids with the model's special tokens, cut to
// maxTokens (special tokens kept); full is the length before cutting.
// tokenize.BERT (WordPiece) implements it.
type tokenizer interface {
	Encode(text string, maxTokens int) (ids []int64, full int, truncated bool, err error)
}

// pairTokenizer also encodes a pair of texts with the pair template (XLM-R:
// <s> a </s></s> b </s>), cutting the longer one first: a cross-encoder's
// query and context.
type pairTokenizer interface {
	tokenizer
	EncodePair(a, b string, maxTokens int) (ids []int64, full int, truncated bool, err error)
}

// loadUnigram loads a SentencePiece Unigram tokenizer.json (XLM-R's).
// Nil until the Unigram tokenizer lands; tests set a stand-in.
var loadUnigram func(path string) (pairTokenizer, error)

// loadTokenizer loads tokenizer.json by its model type: WordPiece (BERT,
// DistilBERT) or Unigram (XLM-R).
func loadTokenizer(path string) (tokenizer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Model struct {
			Type string `json:"type"`
		} `json:"model"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	switch doc.Model.Type {
	case "WordPiece":
		tok, err := tokenize.LoadBERT(path)
		if err != nil {
			return nil, err
		}
		return tok, nil
	case "Unigram":
		if loadUnigram == nil {
			return nil, fmt.Errorf("tokenizer.json: Unigram tokenizers are not supported by this build")
		}
		return loadUnigram(path)
	}
	return nil, fmt.Errorf("tokenizer.json: model type %q is not supported (want WordPiece or Unigram)", doc.Model.Type)
}
