package llm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/models/synth"
)

// writeAdapter writes a PEFT LoRA adapter (rank 4 on q_proj and v_proj)
// for the tiny synthetic Llama into home/loras/name, as a user registers one.
func writeAdapter(t *testing.T, home, name string, seed uint64) {
	t.Helper()
	d := synth.LlamaPresetDims(synth.Tiny)
	const rank = 4
	rng := rand.New(rand.NewPCG(seed, 1))
	type tensor struct {
		shape []int
		data  []float32
	}
	tensors := map[string]tensor{}
	random := func(shape ...int) tensor {
		data := make([]float32, shape[0]*shape[1])
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		return tensor{shape, data}
	}
	for l := range d.Layers {
		for proj, out := range map[string]int{"q_proj": d.Heads * d.HeadDim(), "v_proj": d.KVHeads * d.HeadDim()} {
			prefix := fmt.Sprintf("base_model.model.model.layers.%d.self_attn.%s.", l, proj)
			tensors[prefix+"lora_A.weight"] = random(rank, d.Dim)
			tensors[prefix+"lora_B.weight"] = random(out, rank)
		}
	}

	// safetensors: a little-endian header length, a JSON header of names,
	// dtypes, shapes and byte ranges, then the data.
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	for _, n := range names {
		start := len(data)
		for _, v := range tensors[n].data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		header[n] = map[string]any{"dtype": "F32", "shape": tensors[n].shape, "data_offsets": []int{start, len(data)}}
	}
	hb, _ := json.Marshal(header)
	file := binary.LittleEndian.AppendUint64(nil, uint64(len(hb)))
	file = append(append(file, hb...), data...)

	dir := filepath.Join(home, lorasDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `{"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":["q_proj","v_proj"],"model_type":"llama","base_model_name_or_path":"edgeinfer/llama-synthetic"}`
	if err := os.WriteFile(filepath.Join(dir, adapterConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, adapterFile), file, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoRAAdapterBecomesAnOllamaModel(t *testing.T) {
	eng, _ := sharedEngine(t)
	ctx := testCtx(t, 2*time.Minute)
	writeAdapter(t, testHome, "test-adapter", 1)
	const body = `{"prompt":"Tell me about the sea","max_tokens":24,"temperature":0%s}`
	base := run(t, ctx, eng, mistral, fmt.Sprintf(body, ""))
	adapted := run(t, ctx, eng, mistral, fmt.Sprintf(body, `,"lora":"test-adapter"`))
	if adapted.Response == base.Response {
		t.Errorf("the adapter changes nothing: %q", adapted.Response)
	}
	again := run(t, ctx, eng, mistral, fmt.Sprintf(body, `,"lora":"test-adapter"`))
	if again.Response != adapted.Response {
		t.Errorf("greedy output with the adapter differs between runs: %q, %q", adapted.Response, again.Response)
	}
	// Changed files make a new model.
	writeAdapter(t, testHome, "test-adapter", 2)
	changed := run(t, ctx, eng, mistral, fmt.Sprintf(body, `,"lora":"test-adapter"`))
	if changed.Response == adapted.Response {
		t.Errorf("a replaced adapter still answers as the old one: %q", changed.Response)
	}
	t.Logf("base %q\nadapter 1 %q\nadapter 2 %q", base.Response, adapted.Response, changed.Response)
}
