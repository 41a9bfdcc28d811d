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

func xlmrVariantOf(t *testing.T, id string) xlmrVariant {
	t.Helper()
	i := slices.IndexFunc(xlmrVariants, func(v xlmrVariant) bool { return v.id == id })
	if i < 0 {
		t.Fatalf("no XLM-R variant %s", id)
	}
	return xlmrVariants[i]
}

// xlmrRows are token rows of different lengths in XLM-R's single and pair
// forms (<s> … </s> and <s> q </s></s> d </s>), ids within every preset's
// vocabulary.
var xlmrRows = [][]int64{
	{0, 5, 17, 33, 2, 2, 40, 41, 9, 2},
	{0, 12, 2},
	{0, 60, 61, 62, 2, 2, 70, 2},
}

// TestTinyXLMRMatchesReference runs both XLM-R models' fp32 files (bge-m3's
// with its weights in model.onnx_data) against the float64 reference,
// positions counted from pad+1 as RoBERTa does, pads at id 1; and each
// padded row against the row alone.
func TestTinyXLMRMatchesReference(t *testing.T) {
	orttest.Require(t)
	root := generateTiny(t, 0, RerankerModelID, BGEM3ModelID)
	ids, mask := padRows(xlmrRows, xlmrPadID)
	for _, id := range []string{RerankerModelID, BGEM3ModelID} {
		v := xlmrVariantOf(t, id)
		d, _ := XLMRDims(id, Tiny)
		path := filepath.Join(root, filepath.FromSlash(id), filepath.FromSlash(BGEModelFile))
		output, width := "logits", 1
		if v.arch.head == headNone {
			output, width = "last_hidden_state", len(ids[0])*d.Hidden
		}
		got, _ := runEncoder(t, path, output, ids, mask, nil)
		ref := loadBertReference(t, path, d, v.arch)
		states := ref.forward(ids, mask, nil)
		var want [][]float64
		if v.arch.head == headNone {
			for _, row := range states {
				want = append(want, slices.Concat(row...))
			}
		} else {
			want = ref.logits(states)
		}
		if worst := maxAbsDiff(got, want); worst > 1e-4 {
			t.Errorf("%s: ONNX Runtime and the reference XLM-R differ by up to %g (limit 1e-4)", id, worst)
		} else {
			t.Logf("%s: max |ORT - reference| = %.2g", id, worst)
		}

		for r, row := range xlmrRows {
			alone, _ := runEncoder(t, path, output, [][]int64{row}, [][]int64{slices.Repeat([]int64{1}, len(row))}, nil)
			n := len(alone) // the row's real tokens (or its logit)
			for j := range n {
				if diff := math.Abs(float64(alone[j] - got[r*width+j])); diff > 1e-5 {
					t.Fatalf("%s: row %d value %d is %v alone and %v padded", id, r, j, alone[j], got[r*width+j])
				}
			}
		}
	}
}

// The reranker's int8 file tracks its fp32 one (sigmoid of the logit
// within 0.05), and its logits are not all alike.
func TestTinyRerankerQuantizedTracksFloat(t *testing.T) {
	orttest.Require(t)
	dir := filepath.Join(generateTiny(t, 0, RerankerModelID), filepath.FromSlash(RerankerModelID))
	ids, mask := padRows(xlmrRows, xlmrPadID)
	f32, _ := runEncoder(t, filepath.Join(dir, filepath.FromSlash(BGEModelFile)), "logits", ids, mask, nil)
	i8, _ := runEncoder(t, filepath.Join(dir, filepath.FromSlash(BGEQuantizedModelFile)), "logits", ids, mask, nil)
	sigmoid := func(x float32) float64 { return 1 / (1 + math.Exp(-float64(x))) }
	for r := range f32 {
		if d := math.Abs(sigmoid(f32[r]) - sigmoid(i8[r])); d > 0.05 || math.IsNaN(d) {
			t.Errorf("row %d: int8 score %v, fp32 %v", r, sigmoid(i8[r]), sigmoid(f32[r]))
		}
	}
	if math.Abs(float64(f32[0]-f32[1])) < 1e-3 && math.Abs(float64(f32[1]-f32[2])) < 1e-3 {
		t.Errorf("logits %v are all alike; weights look degenerate", f32)
	}
}

// bge-m3 takes inputs past the 512 tokens of the reranker: its position
// table has 8194 rows.
func TestTinyBGEM3TakesLongInputs(t *testing.T) {
	orttest.Require(t)
	dir := filepath.Join(generateTiny(t, 0, BGEM3ModelID), filepath.FromSlash(BGEM3ModelID))
	row := []int64{0}
	for i := range 1000 {
		row = append(row, int64(4+i%100))
	}
	row = append(row, 2)
	got, shape := runEncoder(t, filepath.Join(dir, filepath.FromSlash(BGEModelFile)), "last_hidden_state",
		[][]int64{row}, [][]int64{slices.Repeat([]int64{1}, len(row))}, nil)
	d, _ := XLMRDims(BGEM3ModelID, Tiny)
	if !slices.Equal(shape, []int64{1, int64(len(row)), int64(d.Hidden)}) {
		t.Fatalf("shape %v", shape)
	}
	for _, v := range got {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("non-finite output on a long input")
		}
	}
}

func TestXLMRContract(t *testing.T) {
	root := t.TempDir()
	if err := Generate(t.Context(), Options{Preset: Tiny, OutDir: root, Float16: true}, []string{RerankerModelID, BGEM3ModelID}, os.Stderr); err != nil {
		t.Fatal(err)
	}
	batch, seq := onnxgraph.Dynamic("batch_size"), onnxgraph.Dynamic("sequence_length")
	same := func(a, b onnxfile.Value) bool {
		return a.Name == b.Name && a.Type == b.Type && slices.Equal(a.Dims, b.Dims)
	}
	for _, id := range []string{RerankerModelID, BGEM3ModelID} {
		v := xlmrVariantOf(t, id)
		d, _ := XLMRDims(id, Tiny)
		dir := filepath.Join(root, filepath.FromSlash(id))
		for _, file := range []string{BGEModelFile, BGEQuantizedModelFile, BGEFloat16ModelFile} {
			ins, outs, err := onnxfile.ReadInterface(filepath.Join(dir, filepath.FromSlash(file)))
			if err != nil {
				t.Fatal(err)
			}
			float := onnxgraph.Float
			if file == BGEFloat16ModelFile {
				float = onnxgraph.Float16
			}
			wantIn := []onnxfile.Value{
				{Name: "input_ids", Type: onnxgraph.Int64, Dims: []onnxgraph.Dim{batch, seq}},
				{Name: "attention_mask", Type: onnxgraph.Int64, Dims: []onnxgraph.Dim{batch, seq}},
			}
			wantOut := []onnxfile.Value{{Name: "logits", Type: float, Dims: []onnxgraph.Dim{batch, onnxgraph.Fixed(1)}}}
			if v.arch.head == headNone {
				wantOut = []onnxfile.Value{{Name: "last_hidden_state", Type: float, Dims: []onnxgraph.Dim{batch, seq, onnxgraph.Fixed(int64(d.Hidden))}}}
			}
			if !slices.EqualFunc(ins, wantIn, same) || !slices.EqualFunc(outs, wantOut, same) {
				t.Errorf("%s %s declares %v -> %v, want %v -> %v", id, file, ins, outs, wantIn, wantOut)
			}
		}
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(BGEM3DataFile)))
		if v.external != (err == nil) {
			t.Errorf("%s: external data file present = %v, want %v", id, err == nil, v.external)
		}

		var cfg map[string]any
		raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]any{
			MarkerKey: true, "model_type": "xlm-roberta", "hidden_size": float64(d.Hidden), "pad_token_id": 1.0,
			"max_position_embeddings": float64(v.maxLength + 2), "type_vocab_size": 1.0, "layer_norm_eps": 1e-5,
			"vocab_size": float64(d.Vocab), "bos_token_id": 0.0, "eos_token_id": 2.0,
		} {
			if cfg[key] != want {
				t.Errorf("%s: config.json %s = %v, want %v", id, key, cfg[key], want)
			}
		}
		var tokCfg map[string]any
		raw, err = os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &tokCfg); err != nil || tokCfg["model_max_length"] != float64(v.maxLength) {
			t.Errorf("%s: tokenizer_config.json %v (%v)", id, tokCfg, err)
		}
		var tok struct {
			Model struct {
				Type  string
				Vocab [][2]any
			}
		}
		raw, err = os.ReadFile(filepath.Join(dir, "tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &tok); err != nil || tok.Model.Type != "Unigram" || len(tok.Model.Vocab) != d.Vocab ||
			tok.Model.Vocab[0][0] != "<s>" || tok.Model.Vocab[1][0] != "<pad>" || tok.Model.Vocab[2][0] != "</s>" {
			t.Errorf("%s: tokenizer.json model %s with %d pieces (%v)", id, tok.Model.Type, len(tok.Model.Vocab), err)
		}
	}
}

// The full presets have the real models' sizes: their fp32 weights match
// the Xenova exports' fp32 files as the hub lists them (within 1%), without
// writing gigabytes.
func TestFullPresetsHaveTheRealSizes(t *testing.T) {
	for _, tc := range []struct {
		id    string
		d     BertDims
		arch  encoderArch
		bytes float64 // the hub's listing of the fp32 weights
	}{
		{DistilBERTModelID, DistilBERTDims(Full), distilBERTArch, 268e6},                                    // onnx/model.onnx
		{RerankerModelID, mustXLMRDims(t, RerankerModelID), xlmrVariantOf(t, RerankerModelID).arch, 1.11e9}, // onnx/model.onnx
		{BGEM3ModelID, mustXLMRDims(t, BGEM3ModelID), xlmrVariantOf(t, BGEM3ModelID).arch, 2.27e9},          // onnx/model.onnx_data
	} {
		var n int64
		for _, p := range encoderParams(tc.d, tc.arch) {
			n += onnxgraph.NumElements(p.dims)
		}
		if got := float64(4 * n); math.Abs(got/tc.bytes-1) > 0.01 {
			t.Errorf("%s: full preset holds %d parameters (%.3g bytes), the real export %.3g", tc.id, n, got, tc.bytes)
		}
	}
}

func mustXLMRDims(t *testing.T, id string) BertDims {
	d, ok := XLMRDims(id, Full)
	if !ok || d.Vocab != xlmrVocab {
		t.Fatalf("%s: full dims %+v", id, d)
	}
	return d
}
