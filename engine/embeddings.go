package engine

import "context"

// Limits of the Workers AI text-embeddings schema.
const (
	maxEmbeddingTexts = 100
)

// EmbeddingsInput is a validated text-embeddings request.
type EmbeddingsInput struct {
	Text []string
	// Pooling is "mean" (the Workers AI default) or "cls".
	Pooling string
	// TruncateInputs (default true) cuts inputs to the model's token limit;
	// false makes an over-long input a 413 instead.
	TruncateInputs bool
}

// EmbeddingsOutput is the Workers AI text-embeddings result.
type EmbeddingsOutput struct {
	Shape   [2]int      `json:"shape"`
	Data    [][]float32 `json:"data"`
	Pooling string      `json:"pooling"`
	// PromptTokens counts the tokens embedded, for usage reporting.
	PromptTokens int `json:"-"`
}

// Embedder is implemented by text-embeddings backends.
type Embedder interface {
	Embed(ctx context.Context, in *EmbeddingsInput) (*EmbeddingsOutput, error)
}

func decodeEmbeddings(raw []byte) (*EmbeddingsInput, error) {
	f, err := parseObject("", raw)
	if err != nil {
		return nil, err
	}
	if f.has("requests") {
		return nil, BadInput("requests", "batch requests need the queueRequest option")
	}
	in := &EmbeddingsInput{Pooling: "mean"}
	if !f.has("text") {
		return nil, BadInput("text", "is required")
	}
	switch jsonKind(f.m["text"]) {
	case "a string":
		s, _, err := f.str("text")
		if err != nil {
			return nil, err
		}
		in.Text = []string{s}
	case "an array":
		items, _, err := f.array("text")
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, BadInput("text", "must contain at least 1 item")
		}
		if len(items) > maxEmbeddingTexts {
			return nil, BadInput("text", "must contain at most %d items, got %d", maxEmbeddingTexts, len(items))
		}
		in.Text = make([]string, len(items))
		for i, item := range items {
			if in.Text[i], err = decodeString(indexPath("text", i), item); err != nil {
				return nil, err
			}
		}
	default:
		return nil, BadInput("text", "must be a string or an array of strings, got %s", jsonKind(f.m["text"]))
	}
	for i, s := range in.Text {
		if s == "" {
			field := "text"
			if len(in.Text) > 1 || jsonKind(f.m["text"]) == "an array" {
				field = indexPath("text", i)
			}
			return nil, BadInput(field, "must not be empty")
		}
	}
	if p, ok, err := f.str("pooling"); err != nil {
		return nil, err
	} else if ok {
		if p != "mean" && p != "cls" {
			return nil, BadInput("pooling", "must be one of \"mean\", \"cls\", got %q", p)
		}
		in.Pooling = p
	}
	if in.TruncateInputs, err = f.boolean("truncate_inputs", true); err != nil {
		return nil, err
	}
	return in, nil
}
