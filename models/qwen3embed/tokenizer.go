package qwen3embed

import "github.com/edgeinfer/edgeinfer/tokenize/hf"

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
func loadTokenizer(path string) (tokenizer, error) {
	tok, err := hf.Load(path)
	if err != nil {
		return nil, err
	}
	return tok, nil
}

// hf.Tokenizer is the tokenizer; the build fails if a method goes missing.
var _ tokenizer = (*hf.Tokenizer)(nil)
