package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// sseData splits an event stream into its data payloads.
func sseData(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, ev := range strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n") {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok {
			t.Fatalf("event without data: %q in %s", ev, body)
		}
		out = append(out, data)
	}
	return out
}

// TestOpenAIShapedModelsOnRun: /ai/run answers glm-4.7-flash (an
// OpenAI-shaped model) with a chat.completion object and streams
// chat.completion.chunk events, the tool calls as a delta with
// finish_reason tool_calls on the usage chunk, Workers AI's usage event and
// [DONE]; a legacy-schema model keeps {response} and its legacy stream.
func TestOpenAIShapedModelsOnRun(t *testing.T) {
	srv := newTestServer(t, Options{})
	glm := srv.URL + runPath + "@cf/zai-org/glm-4.7-flash"

	r := do(t, "POST", glm, "application/json", `{"messages":[{"role":"user","content":"hello there"}],"max_completion_tokens":1}`, nil)
	env := decodeEnvelope(t, r)
	var completion struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(env.Result, &completion); err != nil || r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if completion.Object != "chat.completion" || !strings.HasPrefix(completion.ID, "chatcmpl-") || completion.Model != "@cf/zai-org/glm-4.7-flash" ||
		len(completion.Choices) != 1 || completion.Choices[0].Message.Content != "hello" || completion.Choices[0].FinishReason != "stop" ||
		completion.Usage.CompletionTokens != 1 {
		t.Fatalf("max_completion_tokens 1: %s", env.Result)
	}

	r = do(t, "POST", glm, "application/json", `{"messages":[{"role":"user","content":"please CALL"}],"stream":true,
		"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]}`, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: status %d: %s", r.status, r.body)
	}
	events := sseData(t, r.body)
	if n := len(events); n != 7 || events[n-1] != "[DONE]" || !strings.HasPrefix(events[n-2], `{"response":"","usage":{`) {
		t.Fatalf("stream events:\n%s", strings.Join(events, "\n"))
	}
	var text strings.Builder
	for i, data := range events[:4] {
		var chunk struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct {
					Content   string `json:"content"`
					ToolCalls []struct {
						Index    int `json:"index"`
						Function struct {
							Name, Arguments string
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil || chunk.Object != "chat.completion.chunk" || len(chunk.Choices) != 1 || chunk.Choices[0].FinishReason != nil {
			t.Fatalf("event %d is not a chunk without finish_reason: %s", i, data)
		}
		text.WriteString(chunk.Choices[0].Delta.Content)
		if i == 3 {
			calls := chunk.Choices[0].Delta.ToolCalls
			if len(calls) != 1 || calls[0].Function.Name != "lookup" || calls[0].Function.Arguments != `{"q":"please CALL"}` {
				t.Fatalf("tool call delta: %s", data)
			}
		}
	}
	if text.String() != "please CALL" {
		t.Fatalf("streamed text %q", text.String())
	}
	if !strings.Contains(events[4], `"finish_reason":"tool_calls"`) || !strings.Contains(events[4], `"usage":{`) {
		t.Fatalf("finish chunk: %s", events[4])
	}

	// The legacy schema keeps its shapes.
	r = do(t, "POST", srv.URL+runPath+"@cf/meta/llama-3.1-8b-instruct-fp8", "application/json", `{"prompt":"hi you","stream":true}`, nil)
	if events := sseData(t, r.body); len(events) != 4 || events[0] != `{"response":"hi"}` {
		t.Fatalf("legacy stream: %s", r.body)
	}
}
