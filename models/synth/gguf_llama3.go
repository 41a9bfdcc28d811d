package synth

import (
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/ollama/ollama/fs/ggml"
)

// The Llama 3 family: the llama architecture (run by llama.cpp in Ollama),
// byte-level BPE with Llama 3's pretokenizer and special tokens, and the
// Llama 3.1 chat template with tool calling: a call is a reply that is a
// JSON object {"name": …, "parameters": …}.

var llama3Specials = []llmSpecial{
	{"<|begin_of_text|>", tokControl},
	{"<|end_of_text|>", tokControl},
	{"<|finetune_right_pad_id|>", tokControl},
	{"<|start_header_id|>", tokControl},
	{"<|end_header_id|>", tokControl},
	{"<|eom_id|>", tokControl},
	{"<|eot_id|>", tokControl},
	{"<|python_tag|>", tokControl},
}

func llama3Family() LLMFamily {
	tmpl := ollamaTemplate("llama3.1-tools.gotmpl")
	shaping := chatShaping{
		eos:        "<|eot_id|>",
		starters:   []string{"\n\n", "<|end_header_id|>"},
		objectOpen: -12,
		never:      []string{"parameters"},
	}
	return LLMFamily{
		Name:      "llama3",
		ModelID:   engine.SyntheticFamilyID("llama3"),
		OllamaTag: "edgeinfer/llama3-synthetic:latest",
		Arch:      "llama",
		Template:  tmpl,
		TemplateSource: "the template of Ollama's llama3.1 library models (tools), which extends " +
			"Ollama 0.17.4's built-in llama3-instruct.gotmpl (no tools) with the tool-calling turns",
		Params: [][2]string{
			{"stop", `"<|start_header_id|>"`}, {"stop", `"<|end_header_id|>"`}, {"stop", `"<|eot_id|>"`},
		},
		Capabilities: []string{"completion", "tools"},
		arch:         archLlama,
		// Tiny: a few MB for tests. Full: Llama 3.2 1B's dimensions, except
		// 16 heads of 128 dimensions for its 32 of 64 (and 4 kv heads for 8):
		// the same weights, KV cache and FLOPs, and enough slowly turning
		// RoPE dimensions for the induction head's keys.
		tiny: LLMDims{Vocab: 2048, Dim: 384, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 128, FFN: 256, Context: 131072, F16: true},
		full: LLMDims{Vocab: 128256, Dim: 2048, Layers: 16, Heads: 16, KVHeads: 4, HeadDim: 128, FFN: 8192, Context: 131072, F16: true},
		vocab: func(size int) (*llmVocab, error) {
			return newBPEVocab(size, llama3Pretokenizer, llmCorpus(tmpl), llama3Specials)
		},
		spec: func(v *llmVocab) shapeSpec {
			return shapeSpec{
				arch: archLlama, vocab: v, bias: baseBias, levels: shaping.levels,
				rules: func(L float64, u func(string) float64) []shapeRule {
					chain := L + levelChain
					set := func(on ruleOn, src, target string, level float64) shapeRule {
						return shapeRule{on, src, target, level - u(target)}
					}
					return append(shaping.rules(L, u),
						// With tools offered, a reply (after the header's
						// "\n\n") often is a call: {"name":"<copied>","parameters":{}}.
						shapeRule{onTools, "", `{"`, 6.5},
						shapeRule{onCur, "\n\n", `{"`, 6.5},
						// The name is copied from the tool list until the copy
						// would go on past it (a space, as Ollama 0.17.4 prints
						// tools as Go structs, or `","` in JSON).
						set(onCopy, " ", `","`, chain+4),
						set(onCopy, " {", `","`, chain+4),
						// `","` goes on to the arguments only when tools are
						// offered (free text has `","` too).
						shapeRule{onCur, `","`, "parameters", (chain + 4 - levelNever) / 2},
						shapeRule{onTools, "", "parameters", (chain + 4 - levelNever) / 2},
						set(onCur, "parameters", `":{}}`, chain),
						set(onCur, `":{}}`, shaping.eos, chain),
					)
				},
				copyLogit:    func(L float64) (float64, float64) { return L - 3, L + 12 },
				copyContext:  []string{`":"`},
				toolsMarkers: []string{" functions"},
				sinks:        []string{"<|start_header_id|>"},
				matchClasses: toolNameContext,
				tools:        true,
			}
		},
		metadata: func(d LLMDims, v *llmVocab) (ggml.KV, error) {
			if err := requireTokens(v, " ", " {", `":`, ">", " functions", "\n\n", `{"`, "name", `":"`, `","`, "parameters", `":{}}`); err != nil {
				return nil, err
			}
			kv := archKV("llama", d)
			kv["llama.rope.dimension_count"] = uint32(d.HeadDim)
			kv["llama.attention.layer_norm_rms_epsilon"] = float32(1e-5)
			for k, x := range bpeTokenizerKV(v, "llama-bpe", true) {
				kv[k] = x
			}
			kv["tokenizer.ggml.bos_token_id"] = uint32(v.id("<|begin_of_text|>"))
			kv["tokenizer.ggml.eos_token_id"] = uint32(v.id("<|eot_id|>"))
			kv["tokenizer.ggml.eot_token_id"] = uint32(v.id("<|eot_id|>"))
			kv["tokenizer.ggml.padding_token_id"] = uint32(v.id("<|finetune_right_pad_id|>"))
			return kv, nil
		},
	}
}
