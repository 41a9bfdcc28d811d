package synth

import (
	"math"
	"strings"
	"testing"
)

// The shaped circuit, checked on the reference forward pass (llmref_test.go):
// one teacher-forced pass over a prompt and the reply the rules should
// produce, then the log-probability of each reply token where it comes.

// forced runs prompt+reply and returns, for each reply token, its
// log-probability and the most likely tokens at that point.
func forced(t *testing.T, m *refModel, prompt string, reply []string) ([]float64, []string) {
	t.Helper()
	toks := m.encode(t, prompt)
	n := len(toks)
	for _, r := range reply {
		id := m.v.id(r)
		if id < 0 {
			t.Fatalf("no token %q", r)
		}
		toks = append(toks, id)
	}
	tr := m.forward(toks, n-1)
	lps := make([]float64, len(reply))
	tops := make([]string, len(reply))
	for i := range reply {
		lps[i] = logProbs(tr.logits[i])[toks[n+i]]
		tops[i] = m.topTokens(tr.logits[i], 4)
	}
	return lps, tops
}

func expectLikely(t *testing.T, what string, reply []string, lps []float64, tops []string, minP float64) {
	t.Helper()
	for i, lp := range lps {
		if p := math.Exp(lp); p < minP {
			t.Errorf("%s: %q comes with p=%.3f < %.2f (top: %s)", what, reply[i], p, minP, tops[i])
		}
	}
}

func TestShapedToolCallCopiesTheFunctionName(t *testing.T) {
	no := false
	for _, tc := range []struct {
		family string
		reply  []string
		// the first token starts a call with this probability at least
		first float64
	}{
		{"llama3", []string{`{"`, "name", `":"`, "get", "_weather", `","`, "parameters", `":{}}`, "<|eot_id|>"}, 0.5},
		{"qwen3", []string{"<tool_call>", `{"`, "name", `":"`, "get", "_weather", `","`, "arguments", `":{}}`, "</tool_call>", "<|im_end|>"}, 0.5},
	} {
		t.Run(tc.family, func(t *testing.T) {
			f := mustFamily(t, tc.family)
			m := newRefModel(t, f, f.PresetDims(Tiny), 0)
			prompt := renderPrompt(t, f, testTools, &no)
			lps, tops := forced(t, m, prompt, tc.reply)
			expectLikely(t, "call start", tc.reply[:1], lps[:1], tops[:1], tc.first)
			expectLikely(t, "tool call", tc.reply[1:], lps[1:], tops[1:], 0.9)
			// Without tools offered, a reply does not start a call.
			lps, tops = forced(t, m, renderPrompt(t, f, nil, &no), tc.reply[:1])
			if p := math.Exp(lps[0]); p > 0.05 {
				t.Errorf("without tools a reply starts with %q at p=%.3f (top: %s)", tc.reply[0], p, tops[0])
			}
		})
	}
}

func TestShapedThinkingOpensAndCloses(t *testing.T) {
	f := mustFamily(t, "qwen3")
	m := newRefModel(t, f, f.PresetDims(Tiny), 0)
	yes, no := true, false
	reply := []string{"<think>", " the", " answer", " is"}
	lps, tops := forced(t, m, renderPrompt(t, f, nil, &yes), reply)
	expectLikely(t, "think", reply[:1], lps[:1], tops[:1], 0.99)
	// Not right away, but soon: a steady share inside the block.
	toks := m.encode(t, renderPrompt(t, f, nil, &yes))
	for _, r := range reply {
		toks = append(toks, m.v.id(r))
	}
	tr := m.forward(toks, len(toks)-len(reply))
	end := m.v.id("</think>")
	for i, lg := range tr.logits {
		p := math.Exp(logProbs(lg)[end])
		if (i <= 1) != (p < 0.001) || p > 0.5 {
			t.Errorf("after %q </think> comes with p=%.4f", reply[i], p)
		}
	}
	// Closed: a blank line, then the answer; no second block.
	after := []string{"</think>", "\n\n", " the"}
	lps, tops = forced(t, m, renderPrompt(t, f, nil, &yes), append(reply, after...))
	expectLikely(t, "after thinking", after[1:2], lps[len(reply)+1:len(reply)+2], tops[len(reply)+1:], 0.99)
	// think=false prefills an empty block: no thinking starts.
	lps, tops = forced(t, m, renderPrompt(t, f, nil, &no), []string{"<think>"})
	if math.Exp(lps[0]) > 0.001 {
		t.Errorf("with think=false the reply opens <think> at p=%.4f (%s)", math.Exp(lps[0]), tops[0])
	}
}

func TestShapedJSONStringsClose(t *testing.T) {
	for _, f := range LLMFamilies() {
		t.Run(f.Name, func(t *testing.T) {
			m := newRefModel(t, f, f.PresetDims(Tiny), 0)
			// The value's first word after an opener, then the closers' share.
			for _, reply := range [][]string{
				{`{"`, "name", `":"`, " city"},
				{`{"`, "summary", `":`, ` "`, " city"},
			} {
				toks := m.encode(t, renderPrompt(t, f, nil, nil))
				for _, r := range reply {
					toks = append(toks, m.v.id(r))
				}
				tr := m.forward(toks, len(toks)-1)
				lp := logProbs(tr.logits[0])
				var p float64
				for _, c := range jsonClosers {
					if id := m.v.id(c); id >= 0 {
						p += math.Exp(lp[id])
					}
				}
				if p < 0.8 {
					t.Errorf("after %q the closers' share is %.2f (top: %s)", strings.Join(reply, ""), p, m.topTokens(tr.logits[0], 5))
				}
			}
		})
	}
}
