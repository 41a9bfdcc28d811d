package synth

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

// distilBERTRows are uncased WordPiece ids of three texts of different
// lengths ("hello, world!", "explain", "the quick brown fox jumps").
var distilBERTRows = [][]int64{
	{101, 7592, 1010, 2088, 999, 102},
	{101, 4863, 102},
	{101, 1996, 4248, 2829, 4419, 14523, 102},
}

func TestTinyDistilBERTMatchesReference(t *testing.T) {
	orttest.Require(t)
	dir := filepath.Join(generateTiny(t, 0, DistilBERTModelID), filepath.FromSlash(DistilBERTModelID))
	d := DistilBERTDims(Tiny)
	path := filepath.Join(dir, filepath.FromSlash(BGEModelFile))
	ids, mask := padRows(distilBERTRows, 0)
	got, shape := runEncoder(t, path, "logits", ids, mask, nil)
	if want := []int64{3, 2}; !slices.Equal(shape, want) {
		t.Fatalf("logits shape %v, want %v", shape, want)
	}
	ref := loadBertReference(t, path, d, distilBERTArch)
	want := ref.logits(ref.forward(ids, mask, nil))
	if worst := maxAbsDiff(got, want); worst > 1e-4 {
		t.Errorf("ONNX Runtime and the reference DistilBERT differ by up to %g (limit 1e-4): %v vs %v", worst, got, want)
	} else {
		t.Logf("max |ORT - reference| logit = %.2g", worst)
	}
	if math.Abs(want[0][0]-want[1][0]) < 1e-3 && math.Abs(want[0][1]-want[1][1]) < 1e-3 {
		t.Errorf("different texts give the same logits %v; weights look degenerate", want)
	}

	// Each text alone gives the logits it gets in the padded batch.
	for i, row := range distilBERTRows {
		alone, _ := runEncoder(t, path, "logits", [][]int64{row}, [][]int64{slices.Repeat([]int64{1}, len(row))}, nil)
		for j := range alone {
			if diff := math.Abs(float64(alone[j] - got[i*2+j])); diff > 1e-5 {
				t.Errorf("text %d: logit %d is %v alone and %v padded", i, j, alone[j], got[i*2+j])
			}
		}
	}

	// The int8 file tracks the float one: its softmax within 0.05.
	int8, _ := runEncoder(t, filepath.Join(dir, filepath.FromSlash(BGEQuantizedModelFile)), "logits", ids, mask, nil)
	for r := range 3 {
		p32, p8 := softmax2(got[2*r:2*r+2]), softmax2(int8[2*r:2*r+2])
		if math.Abs(p32-p8) > 0.05 || math.IsNaN(p8) {
			t.Errorf("text %d: int8 P(positive) %v, fp32 %v", r, p8, p32)
		}
	}
}

func softmax2(l []float32) float64 {
	return 1 / (1 + math.Exp(float64(l[0]-l[1])))
}

func TestDistilBERTContract(t *testing.T) {
	root := t.TempDir()
	if err := Generate(t.Context(), Options{Preset: Tiny, OutDir: root, Float16: true}, []string{DistilBERTModelID}, os.Stderr); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, filepath.FromSlash(DistilBERTModelID))
	batch, seq := onnxgraph.Dynamic("batch_size"), onnxgraph.Dynamic("sequence_length")
	for file, float := range map[string]onnxgraph.DataType{BGEModelFile: onnxgraph.Float, BGEQuantizedModelFile: onnxgraph.Float, BGEFloat16ModelFile: onnxgraph.Float16} {
		ins, outs, err := onnxfile.ReadInterface(filepath.Join(dir, filepath.FromSlash(file)))
		if err != nil {
			t.Fatal(err)
		}
		wantIn := []onnxfile.Value{
			{Name: "input_ids", Type: onnxgraph.Int64, Dims: []onnxgraph.Dim{batch, seq}},
			{Name: "attention_mask", Type: onnxgraph.Int64, Dims: []onnxgraph.Dim{batch, seq}},
		}
		wantOut := []onnxfile.Value{{Name: "logits", Type: float, Dims: []onnxgraph.Dim{batch, onnxgraph.Fixed(2)}}}
		same := func(a, b onnxfile.Value) bool {
			return a.Name == b.Name && a.Type == b.Type && slices.Equal(a.Dims, b.Dims)
		}
		if !slices.EqualFunc(ins, wantIn, same) || !slices.EqualFunc(outs, wantOut, same) {
			t.Errorf("%s declares %v -> %v, want %v -> %v", file, ins, outs, wantIn, wantOut)
		}
	}

	var cfg map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	d := DistilBERTDims(Tiny)
	for key, want := range map[string]any{
		MarkerKey: true, "model_type": "distilbert", "dim": float64(d.Hidden), "n_layers": float64(d.Layers),
		"n_heads": float64(d.Heads), "hidden_dim": float64(d.Intermediate), "vocab_size": 30522.0,
		"max_position_embeddings": 512.0, "pad_token_id": 0.0, "activation": "gelu",
	} {
		if cfg[key] != want {
			t.Errorf("config.json %s = %v, want %v", key, cfg[key], want)
		}
	}
	if l, _ := cfg["id2label"].(map[string]any); l["0"] != "NEGATIVE" || l["1"] != "POSITIVE" || len(l) != 2 {
		t.Errorf("config.json id2label = %v", cfg["id2label"])
	}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}
