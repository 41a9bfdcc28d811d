package bert

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/edgeinfer/edgeinfer/tokenize"
	"github.com/edgeinfer/edgeinfer/tokenize/hf"
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

// loadTokenizer loads tokenizer.json by its model type: WordPiece (BERT,
// DistilBERT; the fast direct path) or Unigram (XLM-R, through
// tokenize/hf).
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
		tok, err := hf.Load(path)
		if err != nil {
			return nil, err
		}
		return tok, nil
	}
	return nil, fmt.Errorf("tokenizer.json: model type %q is not supported (want WordPiece or Unigram)", doc.Model.Type)
}

// hf.Tokenizer encodes XLM-R's texts and pairs; the build fails if a
// method goes missing.
var _ pairTokenizer = (*hf.Tokenizer)(nil)
