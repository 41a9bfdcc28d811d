package engine

import "context"

// Limits of the Workers AI text-embeddings schema.
const (
	maxEmbeddingTexts = 100
)

// EmbeddingsInput is a validated text-embeddings request.
type EmbeddingsInput struct {
	Text []string
	// Pooling is "mean" (the Workers AI default) or "cls"; empty for models
	// that pool their own way (qwen3-embedding's last token,
	// embeddinggemma's mean and dense heads), whose answers have no pooling.
	Pooling string
	// TruncateInputs cuts inputs to the model's token limit (the default,
	// except on bge-m3); false makes an over-long input a 413 instead.
	TruncateInputs bool
	// Queries is how many of the leading texts are queries, which a model
	// with a query instruction (qwen3-embedding) embeds as "Instruct:
	// {Instruction}\nQuery:{text}"; the rest are documents, embedded as
	// they are.
	Queries     int
	Instruction string
}

// EmbeddingsOutput is the Workers AI text-embeddings result.
type EmbeddingsOutput struct {
	Shape   [2]int      `json:"shape"`
	Data    [][]float32 `json:"data"`
	Pooling string      `json:"pooling,omitempty"`
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
	if in.Text, err = decodeTexts(f, "text", maxEmbeddingTexts, true); err != nil {
		return nil, err
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

// decodeTexts reads a field that is a non-empty string or an array of 1 to
// max non-empty strings; absent, it is an error when required and nil
// otherwise.
func decodeTexts(f *fields, name string, max int, required bool) ([]string, error) {
	if !f.has(name) {
		if required {
			return nil, BadInput(f.path(name), "is required")
		}
		return nil, nil
	}
	var texts []string
	switch jsonKind(f.m[name]) {
	case "a string":
		s, _, err := f.str(name)
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, BadInput(f.path(name), "must not be empty")
		}
		return []string{s}, nil
	case "an array":
		items, _, err := f.array(name)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, BadInput(f.path(name), "must contain at least 1 item")
		}
		if len(items) > max {
			return nil, BadInput(f.path(name), "must contain at most %d items, got %d", max, len(items))
		}
		texts = make([]string, len(items))
		for i, item := range items {
			path := indexPath(f.path(name), i)
			if texts[i], err = decodeString(path, item); err != nil {
				return nil, err
			}
			if texts[i] == "" {
				return nil, BadInput(path, "must not be empty")
			}
		}
		return texts, nil
	}
	return nil, BadInput(f.path(name), "must be a string or an array of strings, got %s", jsonKind(f.m[name]))
}

// decodeBGEM3 reads bge-m3's three forms: {text} embeds (CLS pooling),
// {query, contexts} scores the contexts against the query, {contexts}
// embeds the contexts. Its truncate_inputs defaults to false (Workers AI's
// schema for the model).
func decodeBGEM3(raw []byte) (any, error) {
	f, err := parseObject("", raw)
	if err != nil {
		return nil, err
	}
	if f.has("requests") {
		return nil, BadInput("requests", "batch requests need the queueRequest option")
	}
	if f.has("text") {
		if f.has("contexts") || f.has("query") {
			return nil, BadInput("text", "send either text, or contexts (with an optional query), not both")
		}
		in := &EmbeddingsInput{Pooling: "cls"}
		if in.Text, err = decodeTexts(f, "text", maxEmbeddingTexts, true); err != nil {
			return nil, err
		}
		if in.TruncateInputs, err = f.boolean("truncate_inputs", false); err != nil {
			return nil, err
		}
		return in, nil
	}
	if !f.has("contexts") {
		return nil, BadInput("text", "is required (or contexts, with an optional query)")
	}
	if f.has("query") {
		if f.has("top_k") {
			return nil, BadInput("top_k", "is not an input of this model")
		}
		in, err := decodeRerank(f, false)
		if err != nil {
			return nil, err
		}
		in.byEmbeddings = true
		return in, nil
	}
	in := &ContextEmbeddingsInput{EmbeddingsInput{Pooling: "cls"}}
	if in.Text, err = decodeContexts(f); err != nil {
		return nil, err
	}
	if in.TruncateInputs, err = f.boolean("truncate_inputs", false); err != nil {
		return nil, err
	}
	return in, nil
}

// Qwen3-Embedding's request limits and default instruction (Workers AI's
// schema for @cf/qwen/qwen3-embedding-0.6b).
const (
	maxQwen3EmbeddingTexts  = 32
	defaultQwen3Instruction = "Given a web search query, retrieve relevant passages that answer the query"
)

// decodeQwen3Embedding reads {queries?, documents? | text?, instruction?}.
// The answer has one row per text: the queries first, then the documents.
func decodeQwen3Embedding(raw []byte) (*EmbeddingsInput, error) {
	f, err := parseObject("", raw)
	if err != nil {
		return nil, err
	}
	if f.has("documents") && f.has("text") {
		return nil, BadInput("text", "is an alias of documents: send one of them")
	}
	queries, err := decodeTexts(f, "queries", maxQwen3EmbeddingTexts, false)
	if err != nil {
		return nil, err
	}
	docField := "documents"
	if f.has("text") {
		docField = "text"
	}
	docs, err := decodeTexts(f, docField, maxQwen3EmbeddingTexts, false)
	if err != nil {
		return nil, err
	}
	if len(queries)+len(docs) == 0 {
		return nil, BadInput("queries", "is required (or documents, or text)")
	}
	in := &EmbeddingsInput{Text: append(queries, docs...), Queries: len(queries), Instruction: defaultQwen3Instruction}
	if s, ok, err := f.str("instruction"); err != nil {
		return nil, err
	} else if ok {
		in.Instruction = s
	}
	if in.TruncateInputs, err = f.boolean("truncate_inputs", true); err != nil {
		return nil, err
	}
	return in, nil
}

// decodeEmbeddingGemma reads {text}: one string or an array; the model
// pools its own way, so the answer is {data, shape} without pooling.
func decodeEmbeddingGemma(raw []byte) (*EmbeddingsInput, error) {
	f, err := parseObject("", raw)
	if err != nil {
		return nil, err
	}
	in := &EmbeddingsInput{}
	if in.Text, err = decodeTexts(f, "text", maxEmbeddingTexts, true); err != nil {
		return nil, err
	}
	if in.TruncateInputs, err = f.boolean("truncate_inputs", true); err != nil {
		return nil, err
	}
	return in, nil
}
