// Package hf encodes text with a Hugging Face tokenizer.json id for id as
// Hugging Face's tokenizers library (the Rust crate behind transformers'
// fast tokenizers) does, for the formats edgeinfer serves: SentencePiece
// Unigram (XLM-RoBERTa: Precompiled normalizer, Metaspace) and byte-level or
// byte-fallback BPE (Qwen3, Gemma 3, Whisper/GPT-2); and decodes ids back to
// text as the library's decode does.
//
// The pipeline is the library's: added tokens are split out of the raw
// text first (those with normalized=false) and then out of the normalized
// text (normalized=true); every other part is normalized, pre-tokenized and
// run through the model; the post-processor's template adds the special
// tokens; truncation cuts the sequences before that, as the library's
// "longest_first" strategy does, so the special tokens always survive.
//
// Text that is not valid UTF-8 is read with each invalid byte replaced by
// U+FFFD, as Go's encoding/json and range loops read it: Hugging Face's
// libraries only ever see decoded strings, so there is no reference
// behaviour to follow, and a request body decoded from JSON has already been
// through the same replacement.
package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// Tokenizer is a parsed tokenizer.json. It is immutable after Parse and safe
// for concurrent use.
type Tokenizer struct {
	normalize normalizer // nil: the identity
	// pre splits a normalized part into words; preFirst is the same chain
	// for the part that starts the input, where Metaspace's "first" prepend
	// scheme applies. nil: the part is one word.
	pre, preFirst preTokenizer
	model         model
	// raw holds the added tokens matched in the text as given
	// (normalized=false), norm those matched in normalized text.
	raw, norm *addedMatcher
	added     map[string]int64
	addedByID map[int64]addedToken
	post      postProcessor
	// decode is the decoder section; nil joins tokens with spaces.
	decode decoder
	padID  int64
	hasPad bool
}

// file is the part of tokenizer.json that Parse reads.
type file struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
	Padding       *struct {
		PadID    *int64 `json:"pad_id"`
		PadToken string `json:"pad_token"`
	} `json:"padding"`
}

// typed reads the "type" field of one component; null or absent gives "".
func typed(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var t struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", err
	}
	return t.Type, nil
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// Load reads a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse reads the contents of a tokenizer.json. A component type the
// package does not implement is an error naming it, never an approximation.
func Parse(raw []byte) (*Tokenizer, error) {
	var f file
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	t := &Tokenizer{added: map[string]int64{}, addedByID: map[int64]addedToken{}}
	var err error
	if t.model, err = newModel(f.Model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if t.normalize, err = newNormalizer(f.Normalizer); err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	if t.pre, err = newPreTokenizer(f.PreTokenizer, false); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	if t.preFirst, err = newPreTokenizer(f.PreTokenizer, true); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	var rawTokens, normTokens []addedToken
	for _, a := range f.AddedTokens {
		if a.Content == "" {
			return nil, fmt.Errorf("added token %d is empty", a.ID)
		}
		if a.ID < 0 {
			return nil, fmt.Errorf("added token %q has a negative id", a.Content)
		}
		t.added[a.Content] = a.ID
		t.addedByID[a.ID] = a
		if a.isNormalized() {
			normTokens = append(normTokens, a)
		} else {
			rawTokens = append(rawTokens, a)
		}
	}
	t.raw = newAddedMatcher(rawTokens)
	// Normalized added tokens are matched by their normalized form, as the
	// library stores them.
	for i, a := range normTokens {
		if t.normalize != nil {
			normTokens[i].Content = t.normalize(a.Content)
		}
	}
	t.norm = newAddedMatcher(normTokens)
	if t.post, err = newPostProcessor(f.PostProcessor, t.TokenID); err != nil {
		return nil, fmt.Errorf("post_processor: %w", err)
	}
	if t.decode, err = newDecoder(f.Decoder); err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	switch {
	case f.Padding != nil && f.Padding.PadID != nil:
		t.padID, t.hasPad = *f.Padding.PadID, true
	default:
		t.padID, t.hasPad = t.TokenID("<pad>")
	}
	return t, nil
}

func newModel(raw json.RawMessage) (model, error) {
	typ, err := typed(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Unigram":
		return newUnigram(raw)
	case "BPE":
		return newBPE(raw)
	case "":
		return nil, errors.New("missing")
	}
	return nil, fmt.Errorf("type %q is not supported", typ)
}

// Normalize applies the normalizer section alone to text (added tokens are
// not split out first), for tests and diagnostics.
func (t *Tokenizer) Normalize(text string) string {
	text = validUTF8(text)
	if t.normalize == nil {
		return text
	}
	return t.normalize(text)
}

// TokenID is the id of a token: an added token, or a piece of the model's
// vocabulary.
func (t *Tokenizer) TokenID(token string) (int64, bool) {
	if id, ok := t.added[token]; ok {
		return id, true
	}
	return t.model.tokenID(token)
}

// PadID is the id that pads a batch: the padding section's pad_id when the
// file has one, else the id of "<pad>", else 0. Padded positions are masked
// out, so for a model without a pad token any id in range serves.
func (t *Tokenizer) PadID() int64 {
	if t.hasPad {
		return t.padID
	}
	return 0
}

// Encode returns the ids of text with the post-processor's special tokens,
// cut to at most maxTokens (0 = no limit) keeping the special tokens; full is
// the untruncated length; truncated reports a cut. A maxTokens too small for
// the special tokens alone is an error.
func (t *Tokenizer) Encode(text string, maxTokens int) (ids []int64, full int, truncated bool, err error) {
	a := t.encodeText(text)
	full = len(a) + t.post.added(false)
	if maxTokens > 0 && full > maxTokens {
		budget := maxTokens - t.post.added(false)
		if budget < 0 {
			return nil, full, false, fmt.Errorf("hf: max tokens %d leaves no room for %d special tokens", maxTokens, t.post.added(false))
		}
		a, truncated = a[:budget], true
	}
	return t.post.apply(a, nil, false), full, truncated, nil
}

// EncodeText returns the ids of text alone, without the post-processor's
// special tokens (Hugging Face's add_special_tokens=False) and uncut.
// Added tokens written in the text are still matched.
func (t *Tokenizer) EncodeText(text string) []int64 {
	return t.encodeText(text)
}

// EncodeOrdinary is EncodeText with no added token matched: text that
// spells one ("<|endoftext|>") is encoded as ordinary text, as tiktoken's
// encode_ordinary does. For user text that must not inject control tokens.
func (t *Tokenizer) EncodeOrdinary(text string) []int64 {
	return t.encodeSplitting(text, nil, nil)
}

// EncodePair encodes a pair (query, document) with the pair template;
// truncation cuts the longer side first (the library's longest_first).
func (t *Tokenizer) EncodePair(a, b string, maxTokens int) (ids []int64, full int, truncated bool, err error) {
	x, y := t.encodeText(a), t.encodeText(b)
	nAdded := t.post.added(true)
	full = len(x) + len(y) + nAdded
	if maxTokens > 0 && full > maxTokens {
		budget := maxTokens - nAdded
		if budget < 0 {
			return nil, full, false, fmt.Errorf("hf: max tokens %d leaves no room for %d special tokens", maxTokens, nAdded)
		}
		n1, n2 := longestFirst(len(x), len(y), budget)
		x, y, truncated = x[:n1], y[:n2], true
	}
	return t.post.apply(x, y, true), full, truncated, nil
}

// longestFirst splits a budget between two sequences of lengths n1 and n2
// (n1+n2 > budget) as tokenizers' truncate_encodings does for LongestFirst:
// the shorter keeps its length when the longer can take the rest, else each
// gets half, the longer one the odd token.
func longestFirst(n1, n2, budget int) (int, int) {
	swap := n1 > n2
	if swap {
		n1, n2 = n2, n1
	}
	if n1 > budget {
		n2 = n1
	} else {
		n2 = max(n1, budget-n1)
	}
	if n1+n2 > budget {
		n1 = budget / 2
		n2 = n1 + budget%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return n1, n2
}

// encodeText is the library's encode_single_sequence without the
// post-processor: added tokens out of the raw text, then each other part
// normalized, added tokens out of that, then pre-tokenized and modelled.
func (t *Tokenizer) encodeText(text string) []int64 {
	return t.encodeSplitting(text, t.raw, t.norm)
}

// encodeSplitting is encodeText with the added tokens of raw and norm (nil:
// none) split out.
func (t *Tokenizer) encodeSplitting(text string, raw, norm *addedMatcher) []int64 {
	text = validUTF8(text)
	var ids []int64
	var words []string
	for _, part := range raw.split(text) {
		if part.id >= 0 {
			ids = append(ids, part.id)
			continue
		}
		s := part.text
		if t.normalize != nil {
			s = t.normalize(s)
		}
		for j, sub := range norm.split(s) {
			if sub.id >= 0 {
				ids = append(ids, sub.id)
				continue
			}
			words = words[:0]
			// Metaspace's "first" scheme prepends only where the part
			// begins the original input.
			pre := t.pre
			if part.start == 0 && j == 0 {
				pre = t.preFirst
			}
			if pre == nil {
				words = append(words, sub.text)
			} else {
				words = pre(words, sub.text)
			}
			for _, w := range words {
				if w != "" {
					ids = t.model.appendIDs(ids, w)
				}
			}
		}
	}
	return ids
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 with
// U+FFFD, as a range loop reads it.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// Decode turns ids back into text as the library's decode does: each id
// becomes its added token or vocabulary piece (an id that is neither is
// dropped), special added tokens are left out when skipSpecial is set, and
// the decoder section joins the rest (ByteLevel: the bytes read as UTF-8,
// a sequence cut inside a character giving U+FFFD, never a panic).
func (t *Tokenizer) Decode(ids []int64, skipSpecial bool) string {
	tokens := make([]string, 0, len(ids))
	for _, id := range ids {
		if a, ok := t.addedByID[id]; ok {
			if !skipSpecial || !a.Special {
				tokens = append(tokens, a.Content)
			}
			continue
		}
		if tok, ok := t.model.idToken(id); ok {
			tokens = append(tokens, tok)
		}
	}
	if t.decode == nil {
		return strings.Join(tokens, " ")
	}
	return strings.Join(t.decode(tokens), "")
}
