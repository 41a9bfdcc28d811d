package synth

import (
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/ollama/ollama/fs/ggml"
)

// The Gemma 3 family: Ollama's gemma3 architecture (Go engine; text only,
// no vision tower), a SentencePiece vocabulary with Gemma's turn tokens,
// and Ollama's built-in gemma3-instruct template (no tools, no thinking).

var gemma3Specials = []llmSpecial{
	{"<pad>", tokControl},
	{"<eos>", tokControl},
	{"<bos>", tokControl},
	{"<unk>", tokControl}, // unknown (newSPMVocab's unk index)
	{"<mask>", tokControl},
	{"<start_of_turn>", tokControl},
	{"<end_of_turn>", tokControl},
}

func gemma3Family() LLMFamily {
	tmpl := ollamaTemplate("gemma3-instruct.gotmpl")
	shaping := chatShaping{
		eos:        "<end_of_turn>",
		starters:   []string{"\n", "model"},
		objectOpen: -8,
	}
	return LLMFamily{
		Name:           "gemma3",
		ModelID:        engine.SyntheticFamilyID("gemma3"),
		OllamaTag:      "edgeinfer/gemma3-synthetic:latest",
		Arch:           "gemma3",
		Template:       tmpl,
		TemplateSource: "Ollama 0.17.4's built-in gemma3-instruct.gotmpl and its stop string (gemma3-instruct.json)",
		// gemma3-instruct.json also sets temperature 0.1, left out: near-greedy
		// sampling of random weights repeats itself and never closes a string.
		Params:       [][2]string{{"stop", `"<end_of_turn>"`}},
		Capabilities: []string{"completion"},
		arch:         archGemma3,
		// Tiny: a few MB for tests. Full: Gemma 3 1B's dimensions.
		tiny: LLMDims{Vocab: 2048, Dim: 384, Layers: 2, Heads: 4, KVHeads: 1, HeadDim: 256, FFN: 256, Context: 32768, SlidingWindow: 512, F16: true},
		full: LLMDims{Vocab: 262144, Dim: 1152, Layers: 26, Heads: 4, KVHeads: 1, HeadDim: 256, FFN: 6912, Context: 32768, SlidingWindow: 512, F16: true},
		vocab: func(size int) (*llmVocab, error) {
			return newSPMVocab(size, llmCorpus(tmpl), gemma3Specials, 3)
		},
		spec: func(v *llmVocab) shapeSpec {
			return shapeSpec{
				arch: archGemma3, vocab: v, bias: baseBias, levels: shaping.levels, rules: shaping.rules,
			}
		},
		metadata: func(d LLMDims, v *llmVocab) (ggml.KV, error) {
			kv := archKV("gemma3", d)
			kv["gemma3.attention.layer_norm_rms_epsilon"] = float32(1e-6)
			kv["gemma3.rope.local.freq_base"] = float32(shapeRopeBase)
			kv["gemma3.attention.sliding_window"] = uint32(d.SlidingWindow)
			kv["tokenizer.ggml.model"] = "llama"
			kv["tokenizer.ggml.pre"] = "default"
			kv["tokenizer.ggml.tokens"] = v.tokens
			kv["tokenizer.ggml.scores"] = v.scores
			kv["tokenizer.ggml.token_type"] = v.types
			kv["tokenizer.ggml.bos_token_id"] = uint32(v.id("<bos>"))
			kv["tokenizer.ggml.eos_token_id"] = uint32(v.id("<eos>"))
			kv["tokenizer.ggml.eot_token_id"] = uint32(v.id("<end_of_turn>"))
			kv["tokenizer.ggml.unknown_token_id"] = uint32(v.id("<unk>"))
			kv["tokenizer.ggml.padding_token_id"] = uint32(v.id("<pad>"))
			kv["tokenizer.ggml.add_bos_token"] = true
			kv["tokenizer.ggml.add_eos_token"] = false
			kv["tokenizer.ggml.add_space_prefix"] = false
			return kv, nil
		},
	}
}
