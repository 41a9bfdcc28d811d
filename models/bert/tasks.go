package bert

import (
	"context"
	"fmt"
	"math"

	"github.com/edgeinfer/edgeinfer/engine"
)

// embedder serves a text-embeddings model (BGE, bge-m3).
type embedder struct{ *Model }

// Embed implements engine.Embedder.
func (m embedder) Embed(ctx context.Context, in *engine.EmbeddingsInput) (*engine.EmbeddingsOutput, error) {
	seqs := make([]sequence, len(in.Text))
	tokens := 0
	for i, text := range in.Text {
		field := "text"
		if len(in.Text) > 1 {
			field = fmt.Sprintf("text[%d]", i)
		}
		ids, full, truncated, err := m.encode(ctx, field, func() ([]int64, int, bool, error) { return m.tok.Encode(text, m.maxTokens) })
		if err != nil {
			return nil, err
		}
		if truncated && !in.TruncateInputs {
			return nil, m.tooLong(field, full)
		}
		seqs[i] = sequence{ids: ids, cls: in.Pooling == "cls"}
		tokens += len(ids)
	}
	vecs, err := m.sched.Submit(ctx, seqs)
	if err != nil {
		return nil, err
	}
	return &engine.EmbeddingsOutput{Shape: [2]int{len(vecs), m.width}, Data: vecs, Pooling: in.Pooling, PromptTokens: tokens}, nil
}

// textClassifier serves a sequence classifier (DistilBERT SST-2).
type textClassifier struct {
	*Model
	labels []string // id2label, in id order
}

// ClassifyText implements engine.TextClassifier: a softmax over the
// model's logits, in float64, labels in id order.
func (m textClassifier) ClassifyText(ctx context.Context, in *engine.TextClassificationInput) (*engine.TextClassificationOutput, error) {
	ids, full, truncated, err := m.encode(ctx, "text", func() ([]int64, int, bool, error) { return m.tok.Encode(in.Text, m.maxTokens) })
	if err != nil {
		return nil, err
	}
	if truncated && !in.TruncateInputs {
		return nil, m.tooLong("text", full)
	}
	logits, err := m.sched.Submit(ctx, []sequence{{ids: ids}})
	if err != nil {
		return nil, err
	}
	probs := softmax(logits[0])
	out := &engine.TextClassificationOutput{Labels: make([]engine.Classification, len(m.labels)), PromptTokens: len(ids)}
	for i, label := range m.labels {
		out.Labels[i] = engine.Classification{Label: label, Score: float32(probs[i])}
	}
	return out, nil
}

// softmax of logits in float64, shifted by the largest for stability.
func softmax(logits []float32) []float64 {
	top := math.Inf(-1)
	for _, l := range logits {
		top = max(top, float64(l))
	}
	probs := make([]float64, len(logits))
	var sum float64
	for i, l := range logits {
		probs[i] = math.Exp(float64(l) - top)
		sum += probs[i]
	}
	for i := range probs {
		probs[i] /= sum
	}
	return probs
}

// reranker serves a cross-encoder (bge-reranker-base): one logit per
// query-context pair.
type reranker struct {
	*Model
	pairs pairTokenizer
}

// Rerank implements engine.Reranker: every context is encoded with the
// query as a pair; the pairs go through the scheduler like texts (spread
// over batches, shared with other requests), and each score is
// sigmoid(logit), in context order.
func (m reranker) Rerank(ctx context.Context, in *engine.RerankInput) (*engine.RerankOutput, error) {
	if !in.TruncateInputs {
		// A query over the limit on its own would make every pair too long;
		// say so once, about the query.
		_, full, truncated, err := m.encode(ctx, "query", func() ([]int64, int, bool, error) { return m.pairs.Encode(in.Query, m.maxTokens) })
		if err != nil {
			return nil, err
		}
		if truncated {
			return nil, m.tooLong("query", full)
		}
	}
	seqs := make([]sequence, len(in.Contexts))
	tokens := 0
	for i, c := range in.Contexts {
		field := fmt.Sprintf("contexts[%d].text", i)
		ids, full, truncated, err := m.encode(ctx, field, func() ([]int64, int, bool, error) { return m.pairs.EncodePair(in.Query, c, m.maxTokens) })
		if err != nil {
			return nil, err
		}
		if truncated && !in.TruncateInputs {
			return nil, engine.TooLarge(field, "the query and this context are %d tokens together, over the model's limit of %d (send truncate_inputs: true to truncate)", full, m.maxTokens)
		}
		seqs[i] = sequence{ids: ids}
		tokens += len(ids)
	}
	logits, err := m.sched.Submit(ctx, seqs)
	if err != nil {
		return nil, err
	}
	out := &engine.RerankOutput{Response: make([]engine.RerankScore, len(logits)), PromptTokens: tokens}
	for i, l := range logits {
		out.Response[i] = engine.RerankScore{ID: i, Score: 1 / (1 + math.Exp(-float64(l[0])))}
	}
	return out, nil
}
