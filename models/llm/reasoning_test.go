package llm

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/edgeinfer/edgeinfer/engine/httpapi"
)

// The reasoning switches reach Ollama's think option (a level for gpt-oss,
// on/off for others), and what the model thought comes back apart from the
// answer: reasoning_content on the Workers AI output and on the OpenAI
// route. gpt-oss cannot be synthesized here (MXFP4), so this runs against
// the fake Ollama at the process boundary.
func TestReasoningReachesOllamaAndComesBack(t *testing.T) {
	for _, c := range []struct {
		model, tag, family, body string
		want                     any
	}{
		{"@cf/openai/gpt-oss-20b", "gpt-oss:20b", "gptoss", `{"messages":[{"role":"user","content":"2+2?"}],"reasoning_effort":"high"}`, "high"},
		{"@cf/openai/gpt-oss-20b", "gpt-oss:20b", "gptoss", `{"prompt":"2+2?","reasoning":{"effort":"low"}}`, "low"},
		{"@cf/qwen/qwen3-30b-a3b-fp8", "qwen3:30b-a3b-q8_0", "qwen3moe", `{"prompt":"2+2?","chat_template_kwargs":{"enable_thinking":false}}`, false},
		{"@cf/qwen/qwen3-30b-a3b-fp8", "qwen3:30b-a3b-q8_0", "qwen3moe", `{"prompt":"2+2?","reasoning_effort":"medium"}`, true},
		{"@cf/qwen/qwen3-30b-a3b-fp8", "qwen3:30b-a3b-q8_0", "qwen3moe", `{"prompt":"2+2?"}`, nil},
	} {
		f := newFakeOllama(t, c.tag, "completion", "thinking", "tools")
		f.family = c.family
		f.chat = func(w http.ResponseWriter, req api.ChatRequest) {
			writeLine(w, map[string]any{"message": map[string]any{"role": "assistant", "thinking": "Two and two "}, "done": false})
			writeLine(w, map[string]any{"message": map[string]any{"role": "assistant", "thinking": "make four."}, "done": false})
			writeLine(w, piece("4"))
			writeLine(w, finished(10, 6))
		}
		eng := newFakeEngine(t, f)
		gen := run(t, testCtx(t, 30*time.Second), eng, c.model, c.body)
		if gen.Response != "4" || gen.Reasoning != "Two and two make four." {
			t.Errorf("%s: response %q reasoning %q", c.body, gen.Response, gen.Reasoning)
		}
		reqs := f.recorded()
		var got any
		if reqs[0].Think != nil {
			got = reqs[0].Think.Value
		}
		if got != c.want {
			t.Errorf("%s %s: think %v, want %v", c.model, c.body, got, c.want)
		}
	}

	f := newFakeOllama(t, "gpt-oss:20b", "completion", "thinking")
	f.family = "gptoss"
	f.chat = func(w http.ResponseWriter, req api.ChatRequest) {
		writeLine(w, map[string]any{"message": map[string]any{"role": "assistant", "thinking": "Easy."}, "done": false})
		writeLine(w, piece("4"))
		writeLine(w, finished(10, 3))
	}
	srv := httptest.NewServer(httpapi.New(newFakeEngine(t, f), httpapi.Options{}).Handler())
	defer srv.Close()
	res := postJSON(t, srv.URL+"/v1/chat/completions",
		`{"model":"@cf/openai/gpt-oss-20b","messages":[{"role":"user","content":"2+2?"}],"reasoning_effort":"medium"}`)
	var out struct {
		Choices []struct {
			Message struct {
				Content          string `json:"content"`
				ReasoningContent string `json:"reasoning_content"`
			} `json:"message"`
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || len(out.Choices) != 1 {
		t.Fatalf("openai answer: %v %+v", err, out)
	}
	if m := out.Choices[0].Message; m.Content != "4" || m.ReasoningContent != "Easy." {
		t.Errorf("openai message %+v, want content 4 and reasoning_content", m)
	}
	if r := f.recorded(); len(r) != 1 || r[0].Think == nil || r[0].Think.Value != "medium" {
		t.Errorf("openai route: think %+v, want medium", r)
	}
}

// Streamed on the OpenAI route, the reasoning arrives as
// delta.reasoning_content chunks before the answer's delta.content; the
// Workers AI stream carries the answer alone.
func TestReasoningStreams(t *testing.T) {
	f := newFakeOllama(t, "qwen3:30b-a3b-q8_0", "completion", "thinking")
	f.family = "qwen3moe"
	f.chat = func(w http.ResponseWriter, req api.ChatRequest) {
		writeLine(w, map[string]any{"message": map[string]any{"role": "assistant", "thinking": "Hmm, "}, "done": false})
		writeLine(w, map[string]any{"message": map[string]any{"role": "assistant", "thinking": "four."}, "done": false})
		writeLine(w, piece("4"))
		writeLine(w, finished(10, 3))
	}
	srv := httptest.NewServer(httpapi.New(newFakeEngine(t, f), httpapi.Options{}).Handler())
	defer srv.Close()
	res := postJSON(t, srv.URL+"/v1/chat/completions",
		`{"model":"@cf/qwen/qwen3-30b-a3b-fp8","messages":[{"role":"user","content":"2+2?"}],"stream":true,"chat_template_kwargs":{"enable_thinking":true}}`)
	var order []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content          string `json:"content"`
					ReasoningContent string `json:"reasoning_content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(line), &chunk); err != nil || len(chunk.Choices) == 0 {
			continue
		}
		if d := chunk.Choices[0].Delta; d.ReasoningContent != "" {
			order = append(order, "think:"+d.ReasoningContent)
		} else if d.Content != "" {
			order = append(order, "say:"+d.Content)
		}
	}
	if got := strings.Join(order, "|"); got != "think:Hmm, |think:four.|say:4" {
		t.Errorf("stream %q, want the reasoning chunks before the answer", got)
	}

	res = postJSON(t, srv.URL+"/client/v4/accounts/a/ai/run/@cf/qwen/qwen3-30b-a3b-fp8", `{"prompt":"2+2?","stream":true}`)
	body, _ := io.ReadAll(res.Body)
	if strings.Contains(string(body), "Hmm") || !strings.Contains(string(body), `"response":"4"`) {
		t.Errorf("Workers AI stream %s, want the answer alone", body)
	}
}

// postJSON posts body and returns the response, closed when the test ends.
func postJSON(t *testing.T, url, body string) *http.Response {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}
