package httpapi

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
)

// POST /v1/responses (the openai SDK's responses.create) runs the
// Responses-shaped input through the engine and answers a response object
// whose output message carries the text; streaming and a missing input are
// 400s naming the field.
func TestResponsesRoute(t *testing.T) {
	srv := newTestServer(t, Options{})
	for _, body := range []string{
		`{"model":"@cf/openai/gpt-oss-20b","input":"echo these words","instructions":"Be brief.","reasoning":{"effort":"low"}}`,
		`{"model":"@cf/openai/gpt-oss-20b","input":[{"role":"user","content":[{"type":"input_text","text":"echo these words"}]}],"max_output_tokens":16}`,
	} {
		r := do(t, "POST", srv.URL+"/v1/responses", "application/json", body, nil)
		var out struct {
			Object, Status string
			Output         []struct {
				Type    string
				Content []struct{ Type, Text string }
			}
			Usage struct {
				InputTokens  int `json:"input_tokens"`
				OutputTokens int `json:"output_tokens"`
			}
		}
		if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || out.Object != "response" || out.Status != "completed" {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
		msg := out.Output[len(out.Output)-1]
		if msg.Type != "message" || len(msg.Content) != 1 || msg.Content[0].Type != "output_text" || msg.Content[0].Text != "echo these words" {
			t.Errorf("%s: output %+v", body, out.Output)
		}
	}
	for body, field := range map[string]string{
		`{"model":"@cf/openai/gpt-oss-20b","input":"x","stream":true}`:                          "stream",
		`{"model":"@cf/openai/gpt-oss-20b"}`:                                                    "input",
		`{"model":"@cf/openai/gpt-oss-20b","input":[{"role":"user","content":[{"type":"x"}]}]}`: "input[0].content[0].type",
		`{"model":"@cf/openai/gpt-oss-20b","input":"x","reasoning":{"effort":"max"}}`:           "reasoning.effort",
	} {
		r := do(t, "POST", srv.URL+"/v1/responses", "application/json", body, nil)
		if r.status != 400 || !strings.Contains(string(r.body), "'"+field+"'") {
			t.Errorf("%s: %d %s, want 400 naming %s", body, r.status, r.body, field)
		}
	}
}

// stream_options.include_usage adds OpenAI's usage chunk (no choices) before
// [DONE]; without it the stream ends with the finish chunk.
func TestChatStreamIncludeUsage(t *testing.T) {
	srv := newTestServer(t, Options{})
	for _, include := range []bool{false, true} {
		body := `{"model":"@cf/microsoft/phi-2","messages":[{"role":"user","content":"p q"}],"stream":true`
		if include {
			body += `,"stream_options":{"include_usage":true}`
		}
		r := do(t, "POST", srv.URL+"/v1/chat/completions", "application/json", body+"}", nil)
		usageOnly := 0
		sc := bufio.NewScanner(strings.NewReader(string(r.body)))
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok || line == "[DONE]" {
				continue
			}
			var chunk struct {
				Choices []json.RawMessage
				Usage   *chatUsage
			}
			if err := json.Unmarshal([]byte(line), &chunk); err != nil {
				t.Fatalf("bad chunk %q", line)
			}
			if len(chunk.Choices) == 0 && chunk.Usage != nil {
				usageOnly++
			}
		}
		if want := map[bool]int{false: 0, true: 1}[include]; usageOnly != want {
			t.Errorf("include_usage %v: %d usage-only chunks, want %d", include, usageOnly, want)
		}
	}
}

// A path with a dot segment gets the route's error, not net/http's redirect
// to the cleaned path (found by FuzzDecoders: model ".").
func TestDotSegmentsAreNotRedirected(t *testing.T) {
	srv := newTestServer(t, Options{})
	for path, status := range map[string]int{
		runPath + ".":                          404,
		runPath + "@cf/baai/../baai/bge-small": 404,
		"/v1//chat/completions":                404,
		runPath + "@cf/baai/bge-small-en-v1.5": 200,
	} {
		r := do(t, "POST", srv.URL+path, "application/json", `{"text":"x"}`, nil)
		if r.status != status {
			t.Errorf("%s: %d %s, want %d", path, r.status, r.body, status)
		}
	}
}
