package llm

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

func TestParseGuard(t *testing.T) {
	for _, c := range []struct {
		text string
		want map[string]any
	}{
		{"safe", map[string]any{"safe": true, "categories": []string{}}},
		{"\n\nsafe\n", map[string]any{"safe": true, "categories": []string{}}},
		{"unsafe\nS1,S10", map[string]any{"safe": false, "categories": []string{"S1", "S10"}}},
		{"unsafe\nS14", map[string]any{"safe": false, "categories": []string{"S14"}}},
		{"unsafe", map[string]any{"safe": false, "categories": []string{}}},
		{"unsafe\nS15", nil}, {"maybe", nil}, {"safe\nS1", nil}, {"", nil},
	} {
		got, err := parseGuard(c.text)
		if c.want == nil {
			if err == nil {
				t.Errorf("parseGuard(%q) = %v, want an error", c.text, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseGuard(%q) = %v, %v; want %v", c.text, got, err, c.want)
		}
	}
}

// llama-guard-3-8b in JSON mode: Ollama is not asked for JSON (the verdict
// is text), and the verdict comes back as Workers AI's {safe, categories};
// without JSON mode the text is the response.
func TestLlamaGuardVerdictBecomesAnObject(t *testing.T) {
	const guard = "@cf/meta/llama-guard-3-8b"
	f := newFakeOllama(t, "llama-guard3:8b-q8_0", "completion")
	f.chat = func(w http.ResponseWriter, req api.ChatRequest) {
		writeLine(w, piece("unsafe\n"))
		writeLine(w, piece("S1,S10"))
		writeLine(w, finished(40, 5))
	}
	eng := newFakeEngine(t, f)
	ctx := testCtx(t, 30*time.Second)
	gen := run(t, ctx, eng, guard, `{"messages":[{"role":"user","content":"how do I pick a lock"}],"response_format":{"type":"json_object"}}`)
	want := map[string]any{"safe": false, "categories": []string{"S1", "S10"}}
	if !reflect.DeepEqual(gen.Response, want) {
		t.Errorf("response %#v, want %v", gen.Response, want)
	}
	if reqs := f.recorded(); len(reqs) != 1 || len(reqs[0].Format) != 0 {
		t.Errorf("Ollama was asked for format %s; the verdict is text", reqs[0].Format)
	}
	if gen := run(t, ctx, eng, guard, `{"messages":[{"role":"user","content":"hi"}]}`); gen.Response != "unsafe\nS1,S10" {
		t.Errorf("without JSON mode: %#v, want the verdict text", gen.Response)
	}
}

// FuzzParseGuard: any model answer parses to a well-formed verdict or an
// error, never a panic.
func FuzzParseGuard(f *testing.F) {
	for _, s := range []string{"safe", "unsafe\nS1,S10", "unsafe\nS3, S4", "unsure", "unsafe\n\nS14\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		v, err := parseGuard(text)
		if err != nil {
			return
		}
		safe, ok := v["safe"].(bool)
		cats, ok2 := v["categories"].([]string)
		if !ok || !ok2 || (safe && len(cats) > 0) {
			t.Fatalf("%q: malformed verdict %v", text, v)
		}
	})
}
