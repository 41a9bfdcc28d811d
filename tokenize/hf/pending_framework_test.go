package hf

// The package's framework (hf.go: Parse, Tokenizer, the model and
// preTokenizer seams) is written on another branch; until it is merged, these
// copies of the two seams let bpe.go, bytelevel.go and split.go be tested on
// their own. The merge deletes this file.

type model interface {
	appendIDs(ids []int64, word string) []int64
	tokenID(token string) (int64, bool)
}

type preTokenizer func(dst []string, s string) []string
