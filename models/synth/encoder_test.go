package synth

import (
	"math"
	"slices"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/ort"
)

// runEncoder runs an encoder file in ONNX Runtime and returns the named
// float32 output, flattened, and its shape. types is bound as
// token_type_ids when not nil.
func runEncoder(t *testing.T, path, output string, ids, mask, types [][]int64) ([]float32, []int64) {
	t.Helper()
	s, err := ort.Open(path, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	shape := onnx.NewShape(int64(len(ids)), int64(len(ids[0])))
	inputs := map[string][][]int64{"input_ids": ids, "attention_mask": mask}
	if types != nil {
		inputs["token_type_ids"] = types
	}
	values := map[string]onnx.Value{}
	for name, rows := range inputs {
		tensor, err := onnx.NewTensor(shape, slices.Concat(rows...))
		if err != nil {
			t.Fatal(err)
		}
		defer tensor.Destroy()
		values[name] = tensor
	}
	in, err := s.BindInputs(values)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]onnx.Value, len(s.Outputs()))
	if err := s.Run(in, out); err != nil {
		t.Fatal(err)
	}
	for _, v := range out {
		defer v.Destroy()
	}
	at := s.OutputIndex(output)
	if at < 0 {
		t.Fatalf("%s has no output %s (has %v)", path, output, s.Outputs())
	}
	y := out[at].(*onnx.Tensor[float32])
	return slices.Clone(y.GetData()), slices.Clone([]int64(y.GetShape()))
}

// maxAbsDiff is the largest |got[i] - want[i]| over a flattened output and
// its float64 reference.
func maxAbsDiff(got []float32, want [][]float64) float64 {
	var worst float64
	i := 0
	for _, row := range want {
		for _, w := range row {
			worst = max(worst, math.Abs(float64(got[i])-w))
			i++
		}
	}
	return worst
}

// padRows right-pads every row to the longest with pad, and returns the
// rows and their attention mask.
func padRows(rows [][]int64, pad int64) (ids, mask [][]int64) {
	width := 0
	for _, r := range rows {
		width = max(width, len(r))
	}
	for _, r := range rows {
		id, m := make([]int64, width), make([]int64, width)
		for i := range width {
			id[i], m[i] = pad, 0
			if i < len(r) {
				id[i], m[i] = r[i], 1
			}
		}
		ids, mask = append(ids, id), append(mask, m)
	}
	return ids, mask
}
