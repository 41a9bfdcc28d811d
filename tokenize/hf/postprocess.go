package hf

import (
	"encoding/json"
	"errors"
	"fmt"
)

// postProcessor adds the special tokens around one sequence or a pair.
type postProcessor struct {
	single, pair []templateItem
}

// templateItem is a run of special-token ids, or the sequence A (seq 0) or
// B (seq 1).
type templateItem struct {
	ids []int64
	seq int // -1 for special tokens
}

// added is how many ids the template adds around the sequences.
func (p postProcessor) added(pair bool) int {
	items := p.single
	if pair {
		items = p.pair
	}
	n := 0
	for _, it := range items {
		n += len(it.ids)
	}
	return n
}

// apply lays out the template; b is nil for a single sequence.
func (p postProcessor) apply(a, b []int64, pair bool) []int64 {
	items := p.single
	if pair {
		items = p.pair
	}
	out := make([]int64, 0, len(a)+len(b)+p.added(pair))
	for _, it := range items {
		switch it.seq {
		case 0:
			out = append(out, a...)
		case 1:
			out = append(out, b...)
		default:
			out = append(out, it.ids...)
		}
	}
	return out
}

var noPostProcessor = postProcessor{
	single: []templateItem{{seq: 0}},
	pair:   []templateItem{{seq: 0}, {seq: 1}},
}

// newPostProcessor reads TemplateProcessing, RobertaProcessing,
// BertProcessing, ByteLevel (no ids of its own) and a Sequence of them;
// null adds nothing.
func newPostProcessor(raw json.RawMessage, tokenID func(string) (int64, bool)) (postProcessor, error) {
	typ, err := typed(raw)
	if err != nil {
		return postProcessor{}, err
	}
	switch typ {
	case "", "ByteLevel":
		return noPostProcessor, nil
	case "Sequence":
		var c struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return postProcessor{}, err
		}
		// The library applies them in turn; only one of ours adds tokens.
		out := noPostProcessor
		adding := 0
		for i, r := range c.Processors {
			p, err := newPostProcessor(r, tokenID)
			if err != nil {
				return postProcessor{}, fmt.Errorf("sequence item %d: %w", i, err)
			}
			if p.added(false) > 0 || p.added(true) > 0 {
				out = p
				adding++
			}
		}
		if adding > 1 {
			return postProcessor{}, errors.New("a sequence of more than one processor that adds tokens is not supported")
		}
		return out, nil
	case "RobertaProcessing", "BertProcessing":
		var c struct {
			Sep []json.RawMessage `json:"sep"`
			Cls []json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return postProcessor{}, err
		}
		sep, err := tokenPair(c.Sep)
		if err != nil {
			return postProcessor{}, fmt.Errorf("sep: %w", err)
		}
		cls, err := tokenPair(c.Cls)
		if err != nil {
			return postProcessor{}, fmt.Errorf("cls: %w", err)
		}
		S, C := templateItem{ids: []int64{sep}, seq: -1}, templateItem{ids: []int64{cls}, seq: -1}
		p := postProcessor{single: []templateItem{C, {seq: 0}, S}}
		if typ == "RobertaProcessing" {
			p.pair = []templateItem{C, {seq: 0}, S, S, {seq: 1}, S}
		} else {
			p.pair = []templateItem{C, {seq: 0}, S, {seq: 1}, S}
		}
		return p, nil
	case "TemplateProcessing":
		var c struct {
			Single        []json.RawMessage `json:"single"`
			Pair          []json.RawMessage `json:"pair"`
			SpecialTokens map[string]struct {
				IDs []int64 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return postProcessor{}, err
		}
		special := func(name string) ([]int64, error) {
			if s, ok := c.SpecialTokens[name]; ok {
				return s.IDs, nil
			}
			if id, ok := tokenID(name); ok {
				return []int64{id}, nil
			}
			return nil, fmt.Errorf("special token %q has no id", name)
		}
		single, err := readTemplate(c.Single, special)
		if err != nil {
			return postProcessor{}, fmt.Errorf("single: %w", err)
		}
		pair, err := readTemplate(c.Pair, special)
		if err != nil {
			return postProcessor{}, fmt.Errorf("pair: %w", err)
		}
		if len(c.Pair) == 0 {
			// No pair template: each sequence with the single one.
			pair = append([]templateItem(nil), single...)
			for _, it := range single {
				if it.seq == 0 {
					it.seq = 1
				}
				pair = append(pair, it)
			}
		}
		return postProcessor{single: single, pair: pair}, nil
	}
	return postProcessor{}, fmt.Errorf("type %q is not supported", typ)
}

// tokenPair reads ["</s>", 2].
func tokenPair(raw []json.RawMessage) (int64, error) {
	var id int64
	if len(raw) != 2 {
		return 0, errors.New("want [token, id]")
	}
	if err := json.Unmarshal(raw[1], &id); err != nil {
		return 0, err
	}
	return id, nil
}

func readTemplate(raw []json.RawMessage, special func(string) ([]int64, error)) ([]templateItem, error) {
	var items []templateItem
	for _, r := range raw {
		var it struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		}
		if err := json.Unmarshal(r, &it); err != nil {
			return nil, err
		}
		switch {
		case it.SpecialToken != nil:
			ids, err := special(it.SpecialToken.ID)
			if err != nil {
				return nil, err
			}
			items = append(items, templateItem{ids: ids, seq: -1})
		case it.Sequence != nil && it.Sequence.ID == "A":
			items = append(items, templateItem{seq: 0})
		case it.Sequence != nil && it.Sequence.ID == "B":
			items = append(items, templateItem{seq: 1})
		default:
			return nil, fmt.Errorf("template item %s is neither a special token nor sequence A or B", r)
		}
	}
	return items, nil
}
