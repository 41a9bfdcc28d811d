package llm

import (
	"encoding/json"
	"strings"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine"
)

// Tool calling for models whose chat template has no tool support (the
// Llama-2-era models of the catalog, and the synthetic one). Ollama refuses
// `tools` for those, while Workers AI accepts them on every one of these
// models; so the tools are described in the system prompt and an answer
// that is exactly one JSON call of a known function becomes a tool call.

const toolsInstruction = "You can call the functions listed below. To call one, answer with only a JSON object " +
	`{"name": "<function name>", "arguments": {<arguments>}} and nothing else. Otherwise answer normally.` +
	"\n\nFunctions:\n"

// emulateTools returns msgs with the tools described in the (first) system
// message, and tool results turned into user turns, which templates
// without tool support would otherwise drop.
func emulateTools(msgs []api.Message, tools []engine.Tool) []api.Message {
	type described struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	}
	list := make([]described, len(tools))
	for i, t := range tools {
		list[i] = described{t.Name, t.Description, t.Parameters}
	}
	spec, _ := json.Marshal(list) // only strings and already-valid JSON
	instruction := toolsInstruction + string(spec)

	out := make([]api.Message, 0, len(msgs)+1)
	if len(msgs) == 0 || msgs[0].Role != "system" {
		out = append(out, api.Message{Role: "system", Content: instruction})
	}
	for i, m := range msgs {
		switch {
		case i == 0 && m.Role == "system":
			m.Content += "\n\n" + instruction
		case m.Role == "tool":
			m = api.Message{Role: "user", Content: "Function result: " + m.Content}
		}
		out = append(out, m)
	}
	return out
}

// parseEmulatedCall reads a tool call from a whole answer: one JSON object
// naming a known function, its arguments under "arguments" (or
// "parameters", which models also write). Code fences around it are fine.
func parseEmulatedCall(answer string, tools []engine.Tool) (engine.ToolCall, bool) {
	s := strings.TrimSpace(answer)
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "```json"), "```")
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
	}
	var call struct {
		Name       string         `json:"name"`
		Arguments  map[string]any `json:"arguments"`
		Parameters map[string]any `json:"parameters"`
	}
	if !strings.HasPrefix(s, "{") || json.Unmarshal([]byte(s), &call) != nil {
		return engine.ToolCall{}, false
	}
	known := false
	for _, t := range tools {
		known = known || t.Name == call.Name
	}
	if !known {
		return engine.ToolCall{}, false
	}
	args := call.Arguments
	if args == nil {
		args = call.Parameters
	}
	if args == nil {
		args = map[string]any{}
	}
	return engine.ToolCall{Name: call.Name, Arguments: args}, true
}

// toolCalls converts Ollama's native tool calls; arguments stay an object,
// as Workers AI returns them.
func toolCalls(calls []api.ToolCall) []engine.ToolCall {
	out := make([]engine.ToolCall, len(calls))
	for i, c := range calls {
		args := c.Function.Arguments.ToMap()
		if args == nil {
			args = map[string]any{}
		}
		out[i] = engine.ToolCall{Name: c.Function.Name, Arguments: args}
	}
	return out
}
