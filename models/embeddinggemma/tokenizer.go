package embeddinggemma

import "github.com/edgeinfer/edgeinfer/tokenize/hf"

// tokenizer is what the backend needs of a Hugging Face tokenizer.json
// (tokenize/hf's Tokenizer): ids with the special tokens included (<bos>
// text <eos> for Gemma), truncated to maxTokens keeping them, the untruncated
// count, and the id padding uses.
type tokenizer interface {
	Encode(text string, maxTokens int) (ids []int64, full int, truncated bool, err error)
	PadID() int64
}

// loadTokenizer reads a model directory's tokenizer.json.
func loadTokenizer(path string) (tokenizer, error) {
	tok, err := hf.Load(path)
	if err != nil {
		return nil, err
	}
	return tok, nil
}

// hf.Tokenizer is the tokenizer; the build fails if a method goes missing.
var _ tokenizer = (*hf.Tokenizer)(nil)
