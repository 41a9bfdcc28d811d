package synth

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// xlmrSentences is everyday text in twenty languages (assets/xlmr) that,
// with the M2M100 corpus, the synthetic XLM-RoBERTa tokenizer learns its
// pieces from. The tokenizer parity corpus (tokenize/hf/testdata) is built
// from the same sentences.
//
//go:embed assets/xlmr/sentences.txt
var xlmrSentences string

// XLM-RoBERTa's vocabulary layout: fairseq's four specials first, <mask>
// last (250,001 in the real checkpoints).
const (
	xlmrTinyVocab = 5000
	xlmrUnkID     = 3
)

var xlmrSpecials = []string{"<s>", "<pad>", "</s>", "<unk>"}

const xlmrMask = "<mask>"

// xlmrPiece is one vocabulary entry.
type xlmrPiece struct {
	text  string
	score float64
}

// xlmrVocabs memoizes xlmrPieces by preset: learning is the slow part.
var xlmrVocabs sync.Map // Preset → []xlmrPiece

// xlmrPieces is the Unigram vocabulary: the specials, the learnt pieces by
// descending score as spm_train orders them, filler pieces up to the real
// size for the full preset, and <mask>.
func xlmrPieces(p Preset) ([]xlmrPiece, error) {
	if v, ok := xlmrVocabs.Load(p); ok {
		return v.([]xlmrPiece), nil
	}
	size := xlmrTinyVocab
	switch p {
	case Tiny:
	case Full:
		size = xlmrVocab
	default:
		return nil, fmt.Errorf("synth: unknown preset %q", p)
	}
	learnt, chars := xlmrLearnPieces(xlmrTrainingText(), size-len(xlmrSpecials)-1)
	v := make([]xlmrPiece, 0, size)
	for _, s := range xlmrSpecials {
		v = append(v, xlmrPiece{text: s})
	}
	v = append(v, learnt...)
	if n := size - len(v) - 1; n > 0 {
		var multi []string
		for _, pc := range learnt {
			if utf8.RuneCountInString(pc.text) > 1 {
				multi = append(multi, pc.text)
			}
		}
		// Filler pieces score below every learnt one, spread over five
		// nats, so Viterbi weighs them but rarely takes them.
		low := learnt[len(learnt)-1].score
		for i, f := range m2m100FillerPieces(multi, chars, n) {
			v = append(v, xlmrPiece{text: f, score: float64(float32(low - 1 - 5*float64(i)/float64(n)))})
		}
	}
	v = append(v, xlmrPiece{text: xlmrMask})
	xlmrVocabs.Store(p, v)
	return v, nil
}

// xlmrTrainingText is the embedded sentences and the M2M100 corpus, one
// text a line, comment lines dropped.
func xlmrTrainingText() []string {
	var lines []string
	for _, l := range strings.Split(xlmrSentences+"\n"+m2m100Corpus, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "# ") {
			lines = append(lines, l)
		}
	}
	return lines
}

// xlmrLearnPieces is a Unigram vocabulary in miniature: every substring of
// a word (with its ▁, at most 16 characters, one script, as spm_train's
// seed pieces) that occurs at least twice is a candidate; the most useful
// (count × length) are kept, with every character of the text; a piece's
// score is the log of its relative frequency, rounded to float32 as
// SentencePiece stores it, and made strictly decreasing so no two pieces
// tie. chars lists the characters, for the filler.
func xlmrLearnPieces(lines []string, max int) (pieces []xlmrPiece, chars []string) {
	words := map[string]int{}
	for _, l := range lines {
		for _, w := range strings.Fields(norm.NFKC.String(l)) {
			words[m2m100WordBoundary+w]++
		}
	}
	count := map[string]int{}
	for w, f := range words {
		r := []rune(w)
		for i := range r {
			for j := i + 1; j <= len(r) && j-i <= m2m100MaxPieceRunes; j++ {
				s := string(r[i:j])
				if j-i > 1 && !m2m100ValidPiece(s) {
					break
				}
				count[s] += f
			}
		}
	}
	var single, multi []string
	for s, n := range count {
		switch {
		case utf8.RuneCountInString(s) == 1:
			single = append(single, s)
		case n >= 2:
			multi = append(multi, s)
		}
	}
	useful := func(s string) int { return count[s] * utf8.RuneCountInString(s) }
	slices.SortFunc(multi, func(a, b string) int {
		if d := useful(b) - useful(a); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	keep := append(slices.Clone(single), multi[:min(len(multi), max-len(single))]...)
	total := 0
	for _, s := range keep {
		total += count[s]
	}
	for _, s := range keep {
		pieces = append(pieces, xlmrPiece{text: s, score: math.Log(float64(count[s]) / float64(total))})
	}
	slices.SortFunc(pieces, func(a, b xlmrPiece) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.text, b.text)
	})
	prev := math.Inf(1)
	for i := range pieces {
		s := float64(float32(pieces[i].score))
		for s >= prev {
			s = float64(math.Nextafter32(float32(s), float32(math.Inf(-1))))
		}
		pieces[i].score, prev = s, s
	}
	slices.Sort(single)
	return pieces, single
}

// XLMRTokenizerJSON is the tokenizer.json of an XLM-RoBERTa model in the
// layout of Xenova/bge-reranker-base's (tokenizers 0.13 era): added tokens
// <s> <pad> </s> <unk> <mask> (lstrip), the Precompiled nmt_nfkc normalizer
// followed by Replace(" {2,}" → " "), Metaspace pre-tokenizer and decoder
// with add_prefix_space, the template <s> A </s> and <s> A </s></s> B </s>,
// and a Unigram model learnt from the embedded text (tiny: 5,000 pieces,
// full: the real 250,002).
func XLMRTokenizerJSON(p Preset) ([]byte, error) {
	vocab, err := xlmrPieces(p)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	q := func(s string) string { return xlmrQuote(s) }
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, s := range append(slices.Clone(xlmrSpecials), xlmrMask) {
		id, lstrip, normalized := i, false, false
		if s == xlmrMask {
			id, lstrip, normalized = len(vocab)-1, true, true
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n    {\n      \"id\": %d,\n      \"content\": %s,\n      \"single_word\": false,\n"+
			"      \"lstrip\": %t,\n      \"rstrip\": false,\n      \"normalized\": %t,\n      \"special\": true\n    }",
			id, q(s), lstrip, normalized)
	}
	b.WriteString("\n  ],\n")
	fmt.Fprintf(&b, `  "normalizer": {
    "type": "Sequence",
    "normalizers": [
      {
        "type": "Precompiled",
        "precompiled_charsmap": %s
      },
      {
        "type": "Replace",
        "pattern": {
          "Regex": " {2,}"
        },
        "content": " "
      }
    ]
  },
  "pre_tokenizer": {
    "type": "Metaspace",
    "replacement": "▁",
    "add_prefix_space": true
  },
  "post_processor": {
    "type": "TemplateProcessing",
    "single": [
      {"SpecialToken": {"id": "<s>", "type_id": 0}},
      {"Sequence": {"id": "A", "type_id": 0}},
      {"SpecialToken": {"id": "</s>", "type_id": 0}}
    ],
    "pair": [
      {"SpecialToken": {"id": "<s>", "type_id": 0}},
      {"Sequence": {"id": "A", "type_id": 0}},
      {"SpecialToken": {"id": "</s>", "type_id": 0}},
      {"SpecialToken": {"id": "</s>", "type_id": 0}},
      {"Sequence": {"id": "B", "type_id": 0}},
      {"SpecialToken": {"id": "</s>", "type_id": 0}}
    ],
    "special_tokens": {
      "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]},
      "<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}
    }
  },
  "decoder": {
    "type": "Metaspace",
    "replacement": "▁",
    "add_prefix_space": true
  },
  "model": {
    "type": "Unigram",
    "unk_id": %d,
    "vocab": [`, q(base64.StdEncoding.EncodeToString(m2m100Charsmap)), xlmrUnkID)
	for i, pc := range vocab {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n      [\n        %s,\n        %s\n      ]", q(pc.text), xlmrScore(pc.score))
	}
	b.WriteString("\n    ],\n    \"byte_fallback\": false\n  }\n}")
	return b.Bytes(), nil
}

// xlmrQuote quotes s as serde_json does: non-ASCII kept, < > & not escaped.
func xlmrQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// xlmrScore formats a score as serde_json writes an f64: shortest digits,
// always with a decimal point.
func xlmrScore(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// XLMRTokenizerConfigJSON is tokenizer_config.json of the XLM-RoBERTa
// repos (512 for bge-reranker-base, 8192 for bge-m3).
func XLMRTokenizerConfigJSON(modelMaxLength int) []byte {
	return []byte(fmt.Sprintf(`{
  "bos_token": "<s>",
  "clean_up_tokenization_spaces": true,
  "cls_token": "<s>",
  "eos_token": "</s>",
  "mask_token": {
    "__type": "AddedToken",
    "content": "<mask>",
    "lstrip": true,
    "normalized": true,
    "rstrip": false,
    "single_word": false
  },
  "model_max_length": %d,
  "pad_token": "<pad>",
  "sep_token": "</s>",
  "sp_model_kwargs": {},
  "tokenizer_class": "XLMRobertaTokenizer",
  "unk_token": "<unk>"
}
`, modelMaxLength))
}

// XLMRSpecialTokensMapJSON is special_tokens_map.json of the XLM-RoBERTa
// repos.
func XLMRSpecialTokensMapJSON() []byte {
	return []byte(`{
  "bos_token": "<s>",
  "cls_token": "<s>",
  "eos_token": "</s>",
  "mask_token": {
    "content": "<mask>",
    "lstrip": true,
    "normalized": false,
    "rstrip": false,
    "single_word": false
  },
  "pad_token": "<pad>",
  "sep_token": "</s>",
  "unk_token": "<unk>"
}
`)
}
