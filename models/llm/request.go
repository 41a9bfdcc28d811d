package llm

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine"
)

// runnerOptions are the Ollama options fixed for a model while it is
// loaded. Ollama reloads a model whenever these change between requests, so
// every request of a model sends the same values.
type runnerOptions struct {
	// NumCtx is the context window in tokens: the catalog's, capped by what
	// the model was trained for (Ollama caps it the same way).
	NumCtx int
	// NumThread is 0 to leave Ollama's default.
	NumThread int
}

// ollamaRequest is one generation as Ollama receives it: a chat, or a raw
// completion for `raw: true` prompts.
type ollamaRequest struct {
	Chat     *api.ChatRequest
	Generate *api.GenerateRequest
	// EmulatedTools are the tools described in the prompt for a model
	// without native tool support; its answer is checked for a call.
	EmulatedTools []engine.Tool
	// Guard: the answer is a Llama Guard verdict (requestPlan.Guard).
	Guard bool
}

// requestPlan is what buildRequest needs to know about the model.
type requestPlan struct {
	Tag       string
	Runner    runnerOptions
	KeepAlive *api.Duration
	// NativeTools says the model's template renders tools (Ollama's tools
	// capability).
	NativeTools bool
	// Guard says the model answers in Llama Guard's format, which JSON mode
	// parses instead of constraining Ollama's output to JSON.
	Guard bool
	// Vision says the model takes images (Ollama's vision capability).
	Vision bool
	// Synthetic says the synthetic demo model stands in for the catalog's.
	Synthetic bool
	// Thinking says the model can think before answering (Ollama's
	// thinking capability); EffortLevels that it takes low/medium/high
	// rather than on/off (gpt-oss).
	Thinking, EffortLevels bool
	// Model names the model in errors.
	Model string
}

// buildRequest maps a Workers AI generation input onto Ollama's native API.
// Every request sets num_predict (Ollama would otherwise generate up to ten
// context windows) and temperature (Ollama's own default differs from
// Workers AI's 0.6), and disables truncation so that a prompt longer than
// the context window fails instead of silently losing its beginning.
func buildRequest(in *engine.GenerationInput, p requestPlan) (*ollamaRequest, error) {
	opts := sampling(in, p.Runner)
	format, err := responseFormat(in)
	if err != nil {
		return nil, err
	}
	if p.Guard {
		format = nil // its verdict is text; output() reads it as {safe, categories}
	}
	if p.Synthetic && !p.Vision {
		// The synthetic stand-in cannot see, and its answers mean nothing
		// anyway: it answers vision requests without their images, so every
		// ID works offline.
		in = withoutImages(in)
	}
	if err := checkImages(in, p); err != nil {
		return nil, err
	}
	stream, noTruncate := true, false
	if in.Raw && in.Prompt != "" {
		return &ollamaRequest{Guard: p.Guard, Generate: &api.GenerateRequest{
			Model: p.Tag, Prompt: in.Prompt, Raw: true, Stream: &stream, Truncate: &noTruncate,
			Format: format, Options: opts, KeepAlive: p.KeepAlive, Images: imageData(in.Images),
		}}, nil
	}
	msgs := make([]api.Message, 0, max(len(in.Messages), 1))
	if in.Prompt != "" {
		msgs = append(msgs, api.Message{Role: "user", Content: in.Prompt})
	}
	for _, m := range in.Messages {
		msgs = append(msgs, api.Message{Role: m.Role, Content: m.Content, Images: imageData(m.Images)})
	}
	if len(in.Images) > 0 {
		// The top-level image goes with the prompt, or the last user turn.
		last := len(msgs) - 1
		for i := last; i >= 0; i-- {
			if msgs[i].Role == "user" {
				last = i
				break
			}
		}
		msgs[last].Images = append(msgs[last].Images, imageData(in.Images)...)
	}
	req := &ollamaRequest{Guard: p.Guard, Chat: &api.ChatRequest{
		Model: p.Tag, Messages: msgs, Stream: &stream, Truncate: &noTruncate,
		Format: format, Options: opts, KeepAlive: p.KeepAlive,
	}}
	req.Chat.Think = think(in.Think, p)
	if len(in.Tools) == 0 {
		return req, nil
	}
	if !p.NativeTools {
		req.Chat.Messages = emulateTools(msgs, in.Tools)
		req.EmulatedTools = in.Tools
		return req, nil
	}
	if req.Chat.Tools, err = ollamaTools(in.Tools); err != nil {
		return nil, err
	}
	return req, nil
}

// sampling maps the Workers AI sampling parameters onto Ollama options;
// the ones the caller left out keep the model's defaults.
func sampling(in *engine.GenerationInput, r runnerOptions) map[string]any {
	opts := map[string]any{
		"num_predict": in.MaxTokens,
		"temperature": in.Temperature,
	}
	if r.NumCtx > 0 {
		opts["num_ctx"] = r.NumCtx
	}
	if r.NumThread > 0 {
		opts["num_thread"] = r.NumThread
	}
	if in.TopP != nil {
		opts["top_p"] = *in.TopP
	}
	if in.TopK != nil {
		opts["top_k"] = *in.TopK
	}
	if in.Seed != nil {
		opts["seed"] = *in.Seed
	}
	if in.RepetitionPenalty != nil {
		opts["repeat_penalty"] = *in.RepetitionPenalty
	}
	if in.FrequencyPenalty != nil {
		opts["frequency_penalty"] = *in.FrequencyPenalty
	}
	if in.PresencePenalty != nil {
		opts["presence_penalty"] = *in.PresencePenalty
	}
	return opts
}

// responseFormat is Ollama's format for JSON mode: "json" for json_object,
// the schema itself for json_schema. The schema may come bare, as Workers
// AI documents it, or wrapped as OpenAI sends it ({name, strict, schema}).
func responseFormat(in *engine.GenerationInput) (json.RawMessage, error) {
	switch in.ResponseFormat {
	case "":
		return nil, nil
	case "json_object":
		return json.RawMessage(`"json"`), nil
	}
	var wrapped struct {
		Schema json.RawMessage `json:"schema"`
		Type   json.RawMessage `json:"type"`
	}
	if err := json.Unmarshal(in.Schema, &wrapped); err != nil {
		return nil, engine.BadInput("response_format.json_schema", "must be a JSON schema object: %v", err)
	}
	if wrapped.Type == nil && bytes.HasPrefix(bytes.TrimSpace(wrapped.Schema), []byte("{")) {
		return wrapped.Schema, nil
	}
	return in.Schema, nil
}

// ollamaTools converts the normalized Workers AI tools (either input shape
// ends up as engine.Tool) to Ollama's function tools.
func ollamaTools(tools []engine.Tool) (api.Tools, error) {
	out := make(api.Tools, len(tools))
	for i, t := range tools {
		params := api.ToolFunctionParameters{Type: "object", Properties: api.NewToolPropertiesMap()}
		if len(t.Parameters) > 0 {
			if err := json.Unmarshal(t.Parameters, &params); err != nil {
				return nil, engine.BadInput(fmt.Sprintf("tools[%d].parameters", i), "is not a JSON schema Ollama accepts: %v", err)
			}
		}
		out[i] = api.Tool{Type: "function", Function: api.ToolFunction{Name: t.Name, Description: t.Description, Parameters: params}}
	}
	return out, nil
}

func imageData(images [][]byte) []api.ImageData {
	if len(images) == 0 {
		return nil
	}
	out := make([]api.ImageData, len(images))
	for i, b := range images {
		out[i] = b
	}
	return out
}

// checkImages refuses images for a model that does not take them, naming
// the field they came in.
func checkImages(in *engine.GenerationInput, p requestPlan) error {
	if p.Vision {
		return nil
	}
	field := ""
	if len(in.Images) > 0 {
		field = "image"
	}
	for i, m := range in.Messages {
		if field == "" && len(m.Images) > 0 {
			field = fmt.Sprintf("messages[%d].content", i)
		}
	}
	if field == "" {
		return nil
	}
	return engine.BadInput(field, "model %s (Ollama model %s) does not take images", p.Model, p.Tag)
}

// think is Ollama's think option for a request's reasoning switch: none for
// a model that cannot think (Ollama refuses it there) or when the request
// leaves the default; an effort only for a model that takes levels, on/off
// otherwise.
func think(v any, p requestPlan) *api.ThinkValue {
	if v == nil || !p.Thinking {
		return nil
	}
	if effort, ok := v.(string); ok && !p.EffortLevels {
		return &api.ThinkValue{Value: effort != ""}
	}
	return &api.ThinkValue{Value: v}
}

// withoutImages is in with no images on it or its messages.
func withoutImages(in *engine.GenerationInput) *engine.GenerationInput {
	out := *in
	out.Images = nil
	out.Messages = make([]engine.Message, len(in.Messages))
	for i, m := range in.Messages {
		m.Images = nil
		out.Messages[i] = m
	}
	return &out
}
