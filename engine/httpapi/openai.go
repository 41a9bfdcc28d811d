package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/gateway"
)

// openAIRequest holds the fields edgeinfer reads from OpenAI request bodies.
type openAIRequest struct {
	Model string `json:"model"`
	// Chat completions.
	Messages            []openAIMessage `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Seed                *int64          `json:"seed"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	Stream              bool            `json:"stream"`
	StreamOptions       struct {
		// IncludeUsage asks for a last chunk with the usage and no choices.
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools          json.RawMessage `json:"tools"`
	ResponseFormat json.RawMessage `json:"response_format"`
	Options        json.RawMessage `json:"options"`
	// Reasoning switches, passed to the engine as sent.
	ReasoningEffort    json.RawMessage `json:"reasoning_effort"`
	ChatTemplateKwargs json.RawMessage `json:"chat_template_kwargs"`
	// Responses (gpt-oss): input, as for embeddings, plus these.
	Instructions    json.RawMessage `json:"instructions"`
	Reasoning       json.RawMessage `json:"reasoning"`
	MaxOutputTokens *int            `json:"max_output_tokens"`
	// Embeddings.
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
}

type openAIMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

func (s *Server) readOpenAI(w http.ResponseWriter, r *http.Request) (*openAIRequest, engine.RunOptions, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, engine.RunOptions{}, err
	}
	var req openAIRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, engine.RunOptions{}, engine.BadInput("/", "invalid JSON body: %v", err)
	}
	if req.Model == "" {
		return nil, engine.RunOptions{}, engine.BadInput("model", "is required")
	}
	opts, err := parseOptions(req.Options)
	return &req, opts, err
}

// runOpenAI runs the Workers AI input made from an OpenAI request as the
// REST routes run theirs: through the gateway's cache (the cf-aig-*
// headers), rate limits and usage metering when there is a gateway. It
// sets cf-aig-cache-status on w for a cacheable request.
func (s *Server) runOpenAI(ctx context.Context, w http.ResponseWriter, r *http.Request, model string, input []byte, opts engine.RunOptions) (gateway.Response, error) {
	var g gatewayOptions
	if err := applyGatewayHeaders(r.Header, &g); err != nil {
		return gateway.Response{}, err
	}
	res, err := s.infer(engine.WithOptions(ctx, opts), r, model, engine.Input{JSON: input}, g.cache)
	if err == nil && res.CacheStatus != "" {
		w.Header().Set("cf-aig-cache-status", res.CacheStatus)
	}
	return res, err
}

// openAIOutput is the engine output behind res as a T: the one that ran,
// or a cached answer decoded (a cached embedding carries no token count).
func openAIOutput[T any](res gateway.Response) (*T, bool) {
	if res.Output != nil {
		out, ok := res.Output.(*T)
		return out, ok
	}
	var out T
	if res.JSON == nil || json.Unmarshal(res.JSON, &out) != nil {
		return nil, false
	}
	return &out, true
}

// handleChatCompletions serves OpenAI chat completions over the engine's
// text-generation models, streaming and not.
func (s *Server) handleChatCompletions(w http.ResponseWriter, r *http.Request) {
	req, opts, err := s.readOpenAI(w, r)
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	input, err := chatInput(req)
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	res, err := s.runOpenAI(ctx, w, r, req.Model, input, opts)
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	id, created := "chatcmpl-"+newRequestID(), time.Now().Unix()
	if res.Stream != nil {
		writeChatChunks(w, res.Stream, cancel, chunkStream{id: id, created: created, model: req.Model, includeUsage: req.StreamOptions.IncludeUsage})
		return
	}
	gen, ok := openAIOutput[engine.GenerationOutput](res)
	if !ok {
		writeOpenAIError(w, engine.BadInput("model", "%s is not a text-generation model", req.Model))
		return
	}
	writeJSON(w, http.StatusOK, chatCompletion(gen, id, created, req.Model))
}

// chatInput rewrites an OpenAI chat body as a Workers AI input object, so
// the engine validates both surfaces with one set of rules.
func chatInput(req *openAIRequest) ([]byte, error) {
	// Content goes through as sent (a string or content parts, text and
	// image_url): the engine's decoder reads and checks it.
	in := map[string]any{"messages": req.Messages, "stream": req.Stream}
	if req.MaxCompletionTokens != nil {
		in["max_tokens"] = *req.MaxCompletionTokens
	} else if req.MaxTokens != nil {
		in["max_tokens"] = *req.MaxTokens
	}
	for k, v := range map[string]any{"temperature": req.Temperature, "top_p": req.TopP, "seed": req.Seed,
		"frequency_penalty": req.FrequencyPenalty, "presence_penalty": req.PresencePenalty} {
		if !isNilPtr(v) {
			in[k] = v
		}
	}
	if len(req.Tools) > 0 {
		in["tools"] = req.Tools
	}
	if len(req.ReasoningEffort) > 0 {
		in["reasoning_effort"] = req.ReasoningEffort
	}
	if len(req.ChatTemplateKwargs) > 0 {
		in["chat_template_kwargs"] = req.ChatTemplateKwargs
	}
	if len(req.ResponseFormat) > 0 && !bytes.Equal(req.ResponseFormat, []byte("null")) {
		var rf struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(req.ResponseFormat, &rf) == nil && rf.Type != "text" {
			in["response_format"] = req.ResponseFormat
		}
	}
	return json.Marshal(in)
}

func isNilPtr(v any) bool {
	switch p := v.(type) {
	case *float64:
		return p == nil
	case *int64:
		return p == nil
	}
	return v == nil
}

type chatUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// openAIToolCalls are calls as OpenAI's message.tool_calls: arguments as a
// JSON string, ids call_0, call_1, ….
func openAIToolCalls(calls []engine.ToolCall) []map[string]any {
	out := make([]map[string]any, len(calls))
	for i, tc := range calls {
		args, _ := json.Marshal(tc.Arguments)
		out[i] = map[string]any{"id": "call_" + strconv.Itoa(i), "type": "function",
			"function": map[string]any{"name": tc.Name, "arguments": string(args)}}
	}
	return out
}

func chatCompletion(gen *engine.GenerationOutput, id string, created int64, model string) map[string]any {
	content := gen.Response
	if _, isString := content.(string); !isString {
		b, _ := json.Marshal(content) // JSON mode: OpenAI carries the object as text
		content = string(b)
	}
	message := map[string]any{"role": "assistant", "content": content}
	if gen.Reasoning != "" {
		message["reasoning_content"] = gen.Reasoning
	}
	finish := "stop"
	if len(gen.ToolCalls) > 0 {
		message["tool_calls"] = openAIToolCalls(gen.ToolCalls)
		finish = "tool_calls"
	}
	return map[string]any{
		"id": id, "object": "chat.completion", "created": created, "model": model,
		"choices": []map[string]any{{"index": 0, "message": message, "finish_reason": finish, "logprobs": nil}},
		"usage":   chatUsage(gen.Usage),
	}
}

// chunkStream is how one chat.completion.chunk stream is labelled and ended.
type chunkStream struct {
	id      string
	created int64
	model   string
	// includeUsage adds OpenAI's usage chunk (no choices) after the finish
	// chunk (stream_options.include_usage).
	includeUsage bool
	// workersUsage adds Workers AI's {"response":"","usage":…} event before
	// [DONE], as /ai/run streams of the OpenAI-shaped models end.
	workersUsage bool
}

// writeChatChunks streams chat.completion.chunk objects, then the calls the
// model made as a tool_calls delta, then the finish chunk (with the usage,
// as Workers AI sends it), then the usage events cs asks for, then [DONE].
func writeChatChunks(w http.ResponseWriter, stream *engine.TextStream, cancel func(), cs chunkStream) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	defer func() {
		cancel()
		for range stream.Events {
		}
	}()
	send := func(v any) bool {
		b, ok := v.([]byte)
		if !ok {
			b, _ = json.Marshal(v)
		}
		if _, err := w.Write(append(append([]byte("data: "), b...), "\n\n"...)); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": cs.id, "object": "chat.completion.chunk", "created": cs.created, "model": cs.model,
			"choices": []map[string]any{{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	if !send(chunk(map[string]any{"role": "assistant", "content": ""}, nil)) {
		return
	}
	for ev := range stream.Events {
		switch {
		case ev.Err != nil:
			d := engine.Describe(ev.Err)
			send(map[string]any{"error": map[string]any{"message": d.Message, "code": d.Code}})
			return
		case ev.Usage != nil:
			finish := "stop"
			if len(ev.ToolCalls) > 0 {
				if !send(chunk(map[string]any{"tool_calls": toolCallDeltas(ev.ToolCalls)}, nil)) {
					return
				}
				finish = "tool_calls"
			}
			final := chunk(map[string]any{}, finish)
			final["usage"] = chatUsage(*ev.Usage)
			ok := send(final)
			if ok && cs.includeUsage {
				ok = send(map[string]any{"id": cs.id, "object": "chat.completion.chunk", "created": cs.created, "model": cs.model,
					"choices": []any{}, "usage": chatUsage(*ev.Usage)})
			}
			if ok && cs.workersUsage {
				ok = send(map[string]any{"response": "", "usage": ev.Usage})
			}
			if ok {
				send([]byte("[DONE]"))
			}
			return
		case ev.Reasoning != "":
			if !send(chunk(map[string]any{"reasoning_content": ev.Reasoning}, nil)) {
				return
			}
		default:
			if !send(chunk(map[string]any{"content": ev.Response}, nil)) {
				return
			}
		}
	}
}

// toolCallDeltas are calls as a chat.completion.chunk delta carries them:
// each whole, with its index.
func toolCallDeltas(calls []engine.ToolCall) []map[string]any {
	out := make([]map[string]any, len(calls))
	for i, c := range openAIToolCalls(calls) {
		c["index"] = i
		out[i] = c
	}
	return out
}

// handleEmbeddings serves OpenAI embeddings over text-embeddings models.
func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	req, opts, err := s.readOpenAI(w, r)
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		writeOpenAIError(w, engine.BadInput("encoding_format", "must be \"float\" or \"base64\", got %q", req.EncodingFormat))
		return
	}
	if len(req.Input) == 0 {
		writeOpenAIError(w, engine.BadInput("input", "is required"))
		return
	}
	input, _ := json.Marshal(map[string]json.RawMessage{"text": req.Input})
	ctx, cancel := s.requestContext(r)
	defer cancel()
	res, err := s.runOpenAI(ctx, w, r, req.Model, input, opts)
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	emb, ok := openAIOutput[engine.EmbeddingsOutput](res)
	if !ok {
		writeOpenAIError(w, engine.BadInput("model", "%s is not a text-embeddings model", req.Model))
		return
	}
	data := make([]map[string]any, len(emb.Data))
	for i, vec := range emb.Data {
		var embedding any = vec
		if req.EncodingFormat == "base64" {
			embedding = float32Base64(vec)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": embedding}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": emb.PromptTokens, "total_tokens": emb.PromptTokens}})
}

// float32Base64 encodes a vector as OpenAI does: little-endian float32 bytes.
func float32Base64(v []float32) string {
	buf := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// handleOpenAIModels lists the catalog as OpenAI models.
func (s *Server) handleOpenAIModels(w http.ResponseWriter, _ *http.Request) {
	entries := s.eng.Catalog().Entries()
	data := make([]map[string]any, len(entries))
	for i, e := range entries {
		data[i] = map[string]any{"id": e.ID, "object": "model", "created": 0, "owned_by": author(e.ID)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func author(id string) string {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) < 2 {
		return "edgeinfer"
	}
	return parts[1]
}
