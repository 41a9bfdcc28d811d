package synth

import (
	"encoding/json"
	"fmt"
	"strings"
)

// xlmrStandInWords are the pieces of the stand-in XLM-R vocabulary.
//
// STAND-IN: until the synthetic XLM-R Unigram tokenizer (XLMRTokenizerJSON)
// lands, the XLM-R models get this small tokenizer.json: the real special
// tokens and layout, one "▁word" piece per word below.
var xlmrStandInWords = strings.Fields(`the a an of to and in is it that for on with as was at by be this are or from
what which who how when where why query context document passage answer question search rank score relevant
alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega
cat dog bird fish tree river mountain city country music film book paper model data text word sentence language
paris london berlin tokyo rome madrid capital france germany japan italy spain weather rain sun snow wind`)

// xlmrTokenizerJSON is the preset's XLM-R tokenizer.json (stand-in, see
// xlmrStandInWords): <s> <pad> </s> <unk> at 0-3, the word pieces, filler
// pieces up to the real 250,002 for Full, and <mask> last.
func xlmrTokenizerJSON(p Preset) ([]byte, error) {
	vocab := [][2]any{{"<s>", 0.0}, {"<pad>", 0.0}, {"</s>", 0.0}, {"<unk>", 0.0}}
	for i, w := range xlmrStandInWords {
		vocab = append(vocab, [2]any{"▁" + w, -float64(i + 1)})
	}
	if p == Full {
		for i := len(vocab); i < xlmrVocab-1; i++ {
			vocab = append(vocab, [2]any{fmt.Sprintf("▁w%06d", i), -float64(i)})
		}
	}
	vocab = append(vocab, [2]any{"<mask>", 0.0})
	added := []map[string]any{}
	for _, tok := range []string{"<s>", "<pad>", "</s>", "<unk>"} {
		added = append(added, map[string]any{"id": len(added), "content": tok, "special": true})
	}
	added = append(added, map[string]any{"id": len(vocab) - 1, "content": "<mask>", "special": true})
	return json.MarshalIndent(map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added, "normalizer": nil,
		"pre_tokenizer":  map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
		"post_processor": map[string]any{"type": "RobertaProcessing", "sep": []any{"</s>", 2}, "cls": []any{"<s>", 0}},
		"decoder":        map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
		"model":          map[string]any{"type": "Unigram", "unk_id": 3, "vocab": vocab},
	}, "", "  ")
}
