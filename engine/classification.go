package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// maxRerankContexts bounds the contexts of one rerank (or bge-m3
// query/contexts) request. Workers AI's schemas set no maxItems here; 100
// matches its limit on texts per embeddings request.
const maxRerankContexts = 100

// TextClassificationInput is a validated {text} request to a text
// classifier (distilbert-sst-2).
type TextClassificationInput struct {
	Text string
	// TruncateInputs cuts an over-long text to the model's limit (true, as
	// Workers AI's classifiers do); false makes it a 413.
	TruncateInputs bool
}

// TextClassificationOutput is Workers AI's answer: one {label, score} per
// class of the model, in the model's label order (id2label: NEGATIVE,
// POSITIVE for SST-2), scores summing to 1. It is an array on the wire.
type TextClassificationOutput struct {
	Labels []Classification
	// PromptTokens counts the tokens classified, for usage reporting.
	PromptTokens int
}

// MarshalJSON writes the bare array Workers AI returns.
func (o *TextClassificationOutput) MarshalJSON() ([]byte, error) { return json.Marshal(o.Labels) }

// TextClassifier is implemented by text-classification backends.
type TextClassifier interface {
	ClassifyText(ctx context.Context, in *TextClassificationInput) (*TextClassificationOutput, error)
}

// RerankInput is a validated {query, contexts: [{text}], top_k?} request:
// to a cross-encoder reranker (bge-reranker-base), or to bge-m3, which
// scores contexts by the cosine of its embeddings.
type RerankInput struct {
	Query    string
	Contexts []string
	// TopK cuts the answer to the best TopK contexts; 0 keeps them all.
	TopK int
	// TruncateInputs cuts an over-long query–context pair (or text) to the
	// model's limit; false makes it a 413 naming the context.
	TruncateInputs bool
	// byEmbeddings: an embedding model (bge-m3) scores the contexts by
	// cosine, not a cross-encoder.
	byEmbeddings bool
}

// RerankScore is the relevance of one context: ID indexes the request's
// contexts.
type RerankScore struct {
	ID    int     `json:"id"`
	Score float64 `json:"score"`
}

// RerankOutput is Workers AI's answer, best first.
type RerankOutput struct {
	Response []RerankScore `json:"response"`
	// PromptTokens counts the tokens scored, for usage reporting.
	PromptTokens int `json:"-"`
}

// Reranker is implemented by cross-encoder backends. Rerank returns one
// score per context in the request's order (ID i for context i); the
// engine sorts them and applies TopK.
type Reranker interface {
	Rerank(ctx context.Context, in *RerankInput) (*RerankOutput, error)
}

// ContextEmbeddingsInput is bge-m3's {contexts: [{text}]} without a query:
// the contexts' embeddings, answered under "response".
type ContextEmbeddingsInput struct {
	EmbeddingsInput
}

// ContextEmbeddingsOutput is bge-m3's answer to contexts without a query.
type ContextEmbeddingsOutput struct {
	Response [][]float32 `json:"response"`
	Shape    [2]int      `json:"shape"`
	Pooling  string      `json:"pooling"`
	// PromptTokens counts the tokens embedded, for usage reporting.
	PromptTokens int `json:"-"`
}

func decodeTextClassification(raw []byte) (*TextClassificationInput, error) {
	f, err := parseObject("", raw)
	if err != nil {
		return nil, err
	}
	if !f.has("text") {
		return nil, BadInput("text", "is required")
	}
	text, _, err := f.str("text")
	if err != nil {
		return nil, err
	}
	if text == "" {
		return nil, BadInput("text", "must not be empty")
	}
	in := &TextClassificationInput{Text: text}
	if in.TruncateInputs, err = f.boolean("truncate_inputs", true); err != nil {
		return nil, err
	}
	return in, nil
}

// decodeContexts reads the contexts array: objects with a non-empty text.
func decodeContexts(f *fields) ([]string, error) {
	items, ok, err := f.array("contexts")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, BadInput("contexts", "is required")
	}
	if len(items) == 0 {
		return nil, BadInput("contexts", "must contain at least 1 item")
	}
	if len(items) > maxRerankContexts {
		return nil, BadInput("contexts", "must contain at most %d items, got %d", maxRerankContexts, len(items))
	}
	out := make([]string, len(items))
	for i, item := range items {
		path := indexPath("contexts", i)
		c, err := parseObject(path, item)
		if err != nil {
			return nil, err
		}
		if !c.has("text") {
			return nil, BadInput(path+".text", "is required")
		}
		if out[i], _, err = c.str("text"); err != nil {
			return nil, err
		}
		if out[i] == "" {
			return nil, BadInput(path+".text", "must not be empty")
		}
	}
	return out, nil
}

// decodeRerank reads a reranker's {query, contexts, top_k?}.
// truncateDefault is the model's truncate_inputs default.
func decodeRerank(f *fields, truncateDefault bool) (*RerankInput, error) {
	in := &RerankInput{}
	if !f.has("query") {
		return nil, BadInput("query", "is required")
	}
	var err error
	if in.Query, _, err = f.str("query"); err != nil {
		return nil, err
	}
	if in.Query == "" {
		return nil, BadInput("query", "must not be empty")
	}
	if in.Contexts, err = decodeContexts(f); err != nil {
		return nil, err
	}
	if k, ok, err := f.integer("top_k", 1, math.MaxInt32); err != nil {
		return nil, err
	} else if ok {
		in.TopK = int(k)
	}
	if in.TruncateInputs, err = f.boolean("truncate_inputs", truncateDefault); err != nil {
		return nil, err
	}
	return in, nil
}

// rank sorts scores best first (ties by context order) and applies topK.
func rank(out *RerankOutput, topK int) *RerankOutput {
	slices.SortStableFunc(out.Response, func(a, b RerankScore) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return a.ID - b.ID
	})
	if topK > 0 && topK < len(out.Response) {
		out.Response = out.Response[:topK]
	}
	return out
}

// rerank scores the contexts with a cross-encoder, or, for an embedding
// model (bge-m3), by the cosine of the query's and each context's unit
// vectors.
func rerank(ctx context.Context, model Model, in *RerankInput) (*RerankOutput, error) {
	if !in.byEmbeddings {
		r, ok := model.(Reranker)
		if !ok {
			return nil, Internal(fmt.Errorf("model of type %T does not implement Reranker", model))
		}
		out, err := r.Rerank(ctx, in)
		if err != nil {
			return nil, err
		}
		if len(out.Response) != len(in.Contexts) {
			return nil, Internal(fmt.Errorf("reranker returned %d scores for %d contexts", len(out.Response), len(in.Contexts)))
		}
		return rank(out, in.TopK), nil
	}
	m, ok := model.(Embedder)
	if !ok {
		return nil, Internal(fmt.Errorf("model of type %T does not implement Embedder", model))
	}
	texts := append([]string{in.Query}, in.Contexts...)
	emb, err := m.Embed(ctx, &EmbeddingsInput{Text: texts, Pooling: "cls", TruncateInputs: in.TruncateInputs})
	if err != nil {
		return nil, renameTextField(err, func(i int) string {
			if i == 0 {
				return "query"
			}
			return indexPath("contexts", i-1) + ".text"
		})
	}
	out := &RerankOutput{Response: make([]RerankScore, len(in.Contexts)), PromptTokens: emb.PromptTokens}
	query := emb.Data[0]
	for i, v := range emb.Data[1:] {
		var dot float64
		for j := range v {
			dot += float64(v[j]) * float64(query[j])
		}
		out.Response[i] = RerankScore{ID: i, Score: dot}
	}
	return rank(out, in.TopK), nil
}

// renameTextField renames the "text[i]" an embedder's error names to the
// request's own field for that text.
func renameTextField(err error, field func(i int) string) error {
	var e *Error
	if !errors.As(err, &e) || e.Field == "" {
		return err
	}
	var i int // a lone text is named "text"
	if _, scanErr := fmt.Sscanf(e.Field, "text[%d]", &i); scanErr != nil && e.Field != "text" {
		return err
	}
	c := *e
	c.Field = field(i)
	c.Message = strings.Replace(e.Message, "'"+e.Field+"'", "'"+c.Field+"'", 1)
	return &c
}
