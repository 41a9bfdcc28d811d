package m2m100

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeinfer/edgeinfer/tokenize/spm"
)

// Special pieces of the M2M100 dictionary (vocab.json).
const (
	unkPiece = "<unk>"
	eosPiece = "</s>"
)

// specialPieces are the tokenizer's special tokens besides the languages;
// skip_special_tokens drops them when decoding.
var specialPieces = map[string]bool{"<s>": true, "<pad>": true, eosPiece: true, unkPiece: true}

// madeUpWords is M2M100Tokenizer's num_madeup_words: ids after the language
// tokens that no text maps to.
const madeUpWords = 8

// tokenizer is M2M100Tokenizer: SentencePiece pieces mapped through
// vocab.json, language tokens numbered after it. It is immutable and safe
// for concurrent use.
type tokenizer struct {
	sp     *spm.Processor
	vocab  map[string]int64
	pieces []string // by id; "" for ids that are not text
	unk    int64
	eos    int64
	// langBase is the id of the first language token (__af__):
	// len(vocab.json), as M2M100Tokenizer numbers them.
	langBase int64
	// textIDs is the number of ids that decode to text (len(vocab.json)).
	textIDs int
}

// loadTokenizer reads sentencepiece.bpe.model and vocab.json from dir, and
// tokenizer.json when present to check that its language tokens sit where
// M2M100Tokenizer's arithmetic puts them. vocabSize is config.json's
// vocab_size; the language tokens and made-up words must fill it exactly.
func loadTokenizer(dir string, vocabSize int) (*tokenizer, error) {
	sp, err := spm.Load(filepath.Join(dir, "sentencepiece.bpe.model"))
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return nil, err
	}
	var vocab map[string]int64
	if err := json.Unmarshal(raw, &vocab); err != nil {
		return nil, fmt.Errorf("vocab.json: %w", err)
	}
	t := &tokenizer{sp: sp, vocab: vocab, pieces: make([]string, len(vocab)), langBase: int64(len(vocab)), textIDs: len(vocab)}
	for p, id := range vocab {
		if id < 0 || id >= int64(len(vocab)) || t.pieces[id] != "" {
			return nil, fmt.Errorf("vocab.json: ids are not 0..%d (%q has %d)", len(vocab)-1, p, id)
		}
		t.pieces[id] = p
	}
	var ok bool
	if t.unk, ok = vocab[unkPiece]; !ok {
		return nil, errors.New("vocab.json has no " + unkPiece)
	}
	if t.eos, ok = vocab[eosPiece]; !ok {
		return nil, errors.New("vocab.json has no " + eosPiece)
	}
	if want := len(vocab) + len(languages) + madeUpWords; vocabSize != want {
		return nil, fmt.Errorf("config.json vocab_size %d, but vocab.json has %d entries (+%d languages +%d made-up words = %d)",
			vocabSize, len(vocab), len(languages), madeUpWords, want)
	}
	if err := t.checkTokenizerJSON(dir); err != nil {
		return nil, err
	}
	return t, nil
}

// checkTokenizerJSON compares the language and special tokens a
// tokenizer.json declares (transformers.js repos ship one) with the ids
// computed here.
func (t *tokenizer) checkTokenizerJSON(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var tj struct {
		AddedTokens []struct {
			ID      int64  `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
	}
	if err := json.Unmarshal(raw, &tj); err != nil {
		return fmt.Errorf("tokenizer.json: %w", err)
	}
	for _, a := range tj.AddedTokens {
		want, known := t.vocab[a.Content]
		if i, ok := languageIndex[strings.Trim(a.Content, "_")]; ok && a.Content == languageToken(i) {
			want, known = t.langID(i), true
		}
		if known && a.ID != want {
			return fmt.Errorf("tokenizer.json gives %s id %d, vocab.json and the language order give %d", a.Content, a.ID, want)
		}
	}
	return nil
}

// langID is the token id of language i.
func (t *tokenizer) langID(i int) int64 { return t.langBase + int64(i) }

// encode returns the encoder input for text in language lang:
// [__lang__] pieces… </s>. Pieces outside vocab.json become <unk>, as in
// M2M100Tokenizer; text that looks like a special token stays text.
func (t *tokenizer) encode(text string, lang int) []int64 {
	pieces := t.sp.EncodePieces(text)
	ids := make([]int64, 0, len(pieces)+2)
	ids = append(ids, t.langID(lang))
	for _, p := range pieces {
		id, ok := t.vocab[p]
		if !ok {
			id = t.unk
		}
		ids = append(ids, id)
	}
	return append(ids, t.eos)
}

// decode turns generated ids into text, as the translation pipeline does
// (skip_special_tokens): special pieces, <unk>, language tokens and
// made-up words are dropped, the rest decode SentencePiece-style (▁ is a
// space) and the result is trimmed.
func (t *tokenizer) decode(ids []int64) string {
	pieces := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || id >= int64(t.textIDs) || specialPieces[t.pieces[id]] {
			continue
		}
		pieces = append(pieces, t.pieces[id])
	}
	return strings.TrimSpace(t.sp.Decode(pieces))
}
