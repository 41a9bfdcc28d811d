package synth

import (
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/ollama/ollama/fs/ggml"
)

// The Qwen3 family: Ollama's qwen3 architecture (run by its Go engine),
// byte-level BPE with Qwen2's pretokenizer, ChatML turns, thinking in
// <think>…</think> and tool calls in <tool_call>…</tool_call>.

var qwen3Specials = []llmSpecial{
	{"<|endoftext|>", tokControl},
	{"<|im_start|>", tokControl},
	{"<|im_end|>", tokControl},
	{"<tool_call>", tokUserDefined},
	{"</tool_call>", tokUserDefined},
	{"<think>", tokUserDefined},
	{"</think>", tokUserDefined},
	{"<tool_response>", tokUserDefined},
	{"</tool_response>", tokUserDefined},
}

func qwen3Family() LLMFamily {
	tmpl := ollamaTemplate("qwen3.gotmpl")
	shaping := chatShaping{
		eos:        "<|im_end|>",
		starters:   []string{"\n", "\n\n", "<think>", "</think>", "<tool_call>"},
		objectOpen: -8,
		never:      []string{"arguments"},
	}
	return LLMFamily{
		Name:      "qwen3",
		ModelID:   engine.SyntheticFamilyID("qwen3"),
		OllamaTag: "edgeinfer/qwen3-synthetic:latest",
		Arch:      "qwen3",
		Template:  tmpl,
		TemplateSource: "the template of Ollama's qwen3 library models (thinking and tools), " +
			"ChatML (Ollama 0.17.4's built-in chatml.gotmpl) with <think> and <tool_call> sections; the Go module ships no qwen3 template",
		Params: [][2]string{
			{"stop", `"<|im_start|>"`}, {"stop", `"<|im_end|>"`},
			{"temperature", "0.6"}, {"top_k", "20"}, {"top_p", "0.95"}, {"repeat_penalty", "1"},
		},
		Capabilities: []string{"completion", "tools", "thinking"},
		arch:         archQwen3,
		// Tiny: a few MB for tests. Full: Qwen3-0.6B's dimensions.
		tiny: LLMDims{Vocab: 2048, Dim: 384, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 128, FFN: 256, Context: 40960, F16: true},
		full: LLMDims{Vocab: 151936, Dim: 1024, Layers: 28, Heads: 16, KVHeads: 8, HeadDim: 128, FFN: 3072, Context: 40960, F16: true},
		vocab: func(size int) (*llmVocab, error) {
			return newBPEVocab(size, qwenPretokenizer, llmCorpus(tmpl, "/think /no_think <tools></tools>"), qwen3Specials)
		},
		spec: func(v *llmVocab) shapeSpec {
			return shapeSpec{
				arch: archQwen3, vocab: v, bias: baseBias, levels: shaping.levels,
				rules: func(L float64, u func(string) float64) []shapeRule {
					chain := L + levelChain
					set := func(on ruleOn, src, target string, level float64) shapeRule {
						return shapeRule{on, src, target, level - u(target)}
					}
					return append(shaping.rules(L, u),
						// Thinking opens the reply (after "assistant\n") and
						// closes after a few words, never right away.
						shapeRule{onCur, "\n", "<think>", (chain - levelNever) / 2},
						shapeRule{onPrev, "assistant", "<think>", (chain - levelNever) / 2},
						shapeRule{onThink, "", "</think>", L - 2 - levelNever},
						shapeRule{onThink, "", shaping.eos, -30},
						shapeRule{onCur, "<think>", "</think>", -30},
						shapeRule{onPrev, "<think>", "</think>", -30},
						set(onCur, "</think>", "\n\n", chain),
						// With tools offered, a reply often starts with a
						// call: <tool_call>{"name":"<copied>","arguments":{}}</tool_call>.
						shapeRule{onTools, "", "<tool_call>", L + 1 - 6 - levelNever},
						shapeRule{onCur, "\n\n", "<tool_call>", 6},
						shapeRule{onThink, "", "<tool_call>", -30},
						set(onCur, "<tool_call>", `{"`, chain),
						// The name is copied from the tool list until the copy
						// would go on past it (a space, as Ollama 0.17.4 prints
						// tools as Go structs, or `","` in JSON).
						set(onCopy, " ", `","`, chain+4),
						set(onCopy, " {", `","`, chain+4),
						// `","` goes on to the arguments only when tools are
						// offered (free text has `","` too).
						shapeRule{onCur, `","`, "arguments", (chain + 4 - levelNever) / 2},
						shapeRule{onTools, "", "arguments", (chain + 4 - levelNever) / 2},
						set(onCur, "arguments", `":{}}`, chain),
						set(onCur, `":{}}`, "</tool_call>", chain),
						set(onCur, "</tool_call>", shaping.eos, chain),
					)
				},
				copyLogit:    func(L float64) (float64, float64) { return L - 3, L + 12 },
				copyContext:  []string{`":"`},
				toolsMarkers: []string{"<tools"},
				thinkOpen:    "<think>", thinkEnd: "</think>",
				sinks:        []string{"<|im_start|>"},
				matchClasses: toolNameContext,
				tools:        true, thinking: true,
			}
		},
		metadata: func(d LLMDims, v *llmVocab) (ggml.KV, error) {
			if err := requireTokens(v, " ", " {", `":`, ">", "<tools", "\n", "\n\n", "assistant", `{"`, "name", `":"`, `","`, "arguments", `":{}}`); err != nil {
				return nil, err
			}
			kv := archKV("qwen3", d)
			kv["qwen3.attention.layer_norm_rms_epsilon"] = float32(1e-6)
			for k, x := range bpeTokenizerKV(v, "qwen2", false) {
				kv[k] = x
			}
			kv["tokenizer.ggml.bos_token_id"] = uint32(v.id("<|endoftext|>"))
			kv["tokenizer.ggml.eos_token_id"] = uint32(v.id("<|im_end|>"))
			kv["tokenizer.ggml.padding_token_id"] = uint32(v.id("<|endoftext|>"))
			return kv, nil
		},
	}
}

// archKV holds the dimension keys every family's architecture reads.
func archKV(arch string, d LLMDims) ggml.KV {
	return ggml.KV{
		arch + ".vocab_size":              uint32(d.Vocab),
		arch + ".context_length":          uint32(d.Context),
		arch + ".embedding_length":        uint32(d.Dim),
		arch + ".block_count":             uint32(d.Layers),
		arch + ".feed_forward_length":     uint32(d.FFN),
		arch + ".attention.head_count":    uint32(d.Heads),
		arch + ".attention.head_count_kv": uint32(d.KVHeads),
		arch + ".attention.key_length":    uint32(d.HeadDim),
		arch + ".attention.value_length":  uint32(d.HeadDim),
		arch + ".rope.freq_base":          float32(shapeRopeBase),
	}
}

// bpeTokenizerKV holds a byte-level BPE vocabulary's tokenizer keys.
func bpeTokenizerKV(v *llmVocab, pre string, addBOS bool) ggml.KV {
	return ggml.KV{
		"tokenizer.ggml.model":         "gpt2",
		"tokenizer.ggml.pre":           pre,
		"tokenizer.ggml.tokens":        v.tokens,
		"tokenizer.ggml.token_type":    v.types,
		"tokenizer.ggml.merges":        v.merges,
		"tokenizer.ggml.add_bos_token": addBOS,
		"tokenizer.ggml.add_eos_token": false,
	}
}
