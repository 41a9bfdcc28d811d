// Package tokenize turns text into the int64 token ids the ONNX models take:
// WordPiece for BERT-family encoders (BGE) through github.com/sugarme/tokenizer.
package tokenize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode"

	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/normalizer"
	"github.com/sugarme/tokenizer/pretrained"
	"golang.org/x/text/unicode/norm"
)

// BERT is a WordPiece tokenizer loaded from a Hugging Face tokenizer.json.
// It is safe for concurrent use.
type BERT struct {
	// fast is the direct BERT pipeline, used when the file describes exactly
	// that pipeline; tk (sugarme) serves any other tokenizer.json.
	fast     *wordPiece
	tk       *tokenizer.Tokenizer
	cls, sep int64
	// stripAccents is applied before tk, see hfStripAccents.
	stripAccents bool
}

// LoadBERT reads a BERT tokenizer.json. Padding and truncation settings in
// the file are ignored: callers truncate per model limit and the batcher pads
// per batch.
func LoadBERT(path string) (*BERT, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tk, err := pretrained.FromReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	tk.WithPadding(nil)
	tk.WithTruncation(nil)
	n, strip, err := hfBertNormalizer(raw)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	if n != nil {
		tk.WithNormalizer(n)
	}
	fast, err := newWordPiece(raw)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	b := &BERT{fast: fast, tk: tk, stripAccents: strip}
	for token, dst := range map[string]*int64{"[CLS]": &b.cls, "[SEP]": &b.sep} {
		id, ok := tk.TokenToId(token)
		if !ok {
			return nil, fmt.Errorf("tokenizer %s: no %s token", path, token)
		}
		*dst = int64(id)
	}
	return b, nil
}

// hfBertNormalizer rebuilds a BertNormalizer with accent stripping taken
// out, and reports whether accents must be stripped, in Hugging Face's
// reading: "strip_accents": null means "strip when lowercasing". sugarme
// reads null as false, and its own stripping skips the NFD step, so "café"
// would become [UNK] instead of "cafe".
func hfBertNormalizer(raw []byte) (n normalizer.Normalizer, stripAccents bool, err error) {
	var doc struct {
		Normalizer *struct {
			Type               string `json:"type"`
			CleanText          bool   `json:"clean_text"`
			HandleChineseChars bool   `json:"handle_chinese_chars"`
			StripAccents       *bool  `json:"strip_accents"`
			Lowercase          bool   `json:"lowercase"`
		} `json:"normalizer"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, false, err
	}
	c := doc.Normalizer
	if c == nil || c.Type != "BertNormalizer" {
		return nil, false, nil
	}
	stripAccents = c.Lowercase
	if c.StripAccents != nil {
		stripAccents = *c.StripAccents
	}
	return normalizer.NewBertNormalizer(c.CleanText, c.Lowercase, c.HandleChineseChars, false), stripAccents, nil
}

// hfStripAccents decomposes text (NFD) and drops non-spacing marks, as
// Hugging Face's BertNormalizer does.
func hfStripAccents(text string) string {
	decomposed := norm.NFD.String(text)
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, decomposed)
}

// Encode returns [CLS] pieces [SEP] as ids. If that is longer than maxLen,
// the pieces are cut so the result is exactly maxLen long and truncated is
// true; fullLen is the length before cutting.
func (b *BERT) Encode(text string, maxLen int) (ids []int64, fullLen int, truncated bool, err error) {
	if b.fast != nil {
		ids = append(b.fast.encode(text, append(make([]int64, 0, len(text)/3+8), b.cls)), b.sep)
		fullLen = len(ids)
		if maxLen >= 2 && fullLen > maxLen {
			ids = append(ids[:maxLen-1], b.sep)
			truncated = true
		}
		return ids, fullLen, truncated, nil
	}
	return b.encodeGeneral(text, maxLen)
}

// encodeGeneral runs sugarme's pipeline.
func (b *BERT) encodeGeneral(text string, maxLen int) (ids []int64, fullLen int, truncated bool, err error) {
	if b.stripAccents {
		text = hfStripAccents(text)
	}
	enc, err := b.tk.EncodeSingle(text, false)
	if err != nil {
		return nil, 0, false, err
	}
	pieces := enc.GetIds()
	fullLen = len(pieces) + 2
	if maxLen >= 2 && fullLen > maxLen {
		pieces, truncated = pieces[:maxLen-2], true
	}
	ids = make([]int64, 0, len(pieces)+2)
	ids = append(ids, b.cls)
	for _, p := range pieces {
		ids = append(ids, int64(p))
	}
	return append(ids, b.sep), fullLen, truncated, nil
}
