package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// handleResponses serves POST /v1/responses (the openai SDK's
// client.responses.create) over text-generation models, without streaming,
// as Workers AI serves it for gpt-oss: the request becomes a Workers AI
// input in the Responses shape ({input, instructions, reasoning}), and the
// answer a response object whose output holds the reasoning and the
// message.
func (s *Server) handleResponses(w http.ResponseWriter, r *http.Request) {
	req, opts, err := s.readOpenAI(w, r)
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	if req.Stream {
		writeOpenAIError(w, engine.BadInput("stream", "streaming responses are not supported; send stream: false"))
		return
	}
	if len(req.Input) == 0 {
		writeOpenAIError(w, engine.BadInput("input", "is required"))
		return
	}
	in := map[string]any{"input": req.Input}
	if len(req.Instructions) > 0 {
		in["instructions"] = req.Instructions
	}
	if len(req.Reasoning) > 0 {
		in["reasoning"] = req.Reasoning
	}
	if req.MaxOutputTokens != nil {
		in["max_tokens"] = *req.MaxOutputTokens
	}
	for k, v := range map[string]any{"temperature": req.Temperature, "top_p": req.TopP} {
		if !isNilPtr(v) {
			in[k] = v
		}
	}
	body, _ := json.Marshal(in)
	ctx, cancel := s.requestContext(r)
	defer cancel()
	res, err := s.runOpenAI(ctx, w, r, req.Model, body, opts)
	if err != nil {
		writeOpenAIError(w, err)
		return
	}
	gen, ok := openAIOutput[engine.GenerationOutput](res)
	if !ok {
		writeOpenAIError(w, engine.BadInput("model", "%s is not a text-generation model", req.Model))
		return
	}
	writeJSON(w, http.StatusOK, responseObject(gen, newRequestID(), time.Now().Unix(), req.Model))
}

// responseObject is a Responses-API response: the reasoning (when the model
// thought) and the assistant message as output items.
func responseObject(gen *engine.GenerationOutput, id string, created int64, model string) map[string]any {
	text, isString := gen.Response.(string)
	if !isString {
		b, _ := json.Marshal(gen.Response)
		text = string(b)
	}
	var output []map[string]any
	if gen.Reasoning != "" {
		output = append(output, map[string]any{"type": "reasoning", "id": "rs_" + id,
			"summary": []map[string]any{}, "content": []map[string]any{{"type": "reasoning_text", "text": gen.Reasoning}}})
	}
	output = append(output, map[string]any{"type": "message", "id": "msg_" + id, "status": "completed", "role": "assistant",
		"content": []map[string]any{{"type": "output_text", "text": text, "annotations": []any{}}}})
	return map[string]any{
		"id": "resp_" + id, "object": "response", "created_at": created, "status": "completed", "model": model,
		"output": output,
		"usage": map[string]int{"input_tokens": gen.Usage.PromptTokens, "output_tokens": gen.Usage.CompletionTokens,
			"total_tokens": gen.Usage.TotalTokens},
	}
}
