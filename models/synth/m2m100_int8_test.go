package synth

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
)

// m2mInitializers reads a file's main-graph initializers by name.
func m2mInitializers(t *testing.T, dir, file string) (*onnxfile.ModelProto, map[string]*onnxfile.TensorProto) {
	t.Helper()
	m, err := onnxfile.ReadModel(filepath.Join(dir, "onnx", file))
	if err != nil {
		t.Fatal(err)
	}
	return m, onnxfile.Initializers(m.GetGraph())
}

// m2mOps counts the node types of g and its branches, and lists the
// MatMul nodes whose second input is an initializer of the main graph.
func m2mOps(g *onnxfile.GraphProto, inits map[string]*onnxfile.TensorProto, ops map[string]int, constMatMuls *[]string) {
	for _, n := range g.GetNode() {
		ops[n.GetOpType()]++
		if n.GetOpType() == "MatMul" && inits[n.GetInput()[1]] != nil {
			*constMatMuls = append(*constMatMuls, n.GetInput()[1])
		}
		for _, a := range n.GetAttribute() {
			if sub := a.GetG(); sub != nil {
				m2mOps(sub, inits, ops, constMatMuls)
			}
		}
	}
}

// The int8 files are the fp32 files as ONNX Runtime's dynamic quantization
// leaves them (m2m100_int8.go): every linear weight int8 per output column
// in [-64, 64] with zero points 0, dequantizing to the fp32 weight within
// half a step; the shared embedding int8 once (the LM head and the
// embedding both read it); no float weight matrix left but the sinusoidal
// position table; every product with a weight a MatMulInteger after a
// DynamicQuantizeLinear.
func TestM2M100Int8FilesQuantizeTheFloatWeights(t *testing.T) {
	dir, d := tinyM2M100(t, 0)
	for _, base := range []string{"encoder_model", "decoder_model", "decoder_with_past_model", "decoder_model_merged"} {
		_, float := m2mInitializers(t, dir, base+".onnx")
		qm, quant := m2mInitializers(t, dir, base+"_quantized.onnx")
		file := base + "_quantized.onnx"

		linears := 0
		for name, w := range float {
			if !strings.HasPrefix(name, "model.") || len(w.GetDims()) != 2 || strings.Contains(name, "embed_positions") {
				if q := quant[name]; strings.HasPrefix(name, "model.") && (q == nil || q.GetDataType() != int32(onnxfile.Float)) {
					t.Errorf("%s: %s should stay float32 as in %s.onnx", file, name, base)
				}
				continue
			}
			if quant[name] != nil {
				t.Errorf("%s still holds the float32 %s", file, name)
			}
			values, err := onnxfile.Float32Values(w, dir)
			if err != nil {
				t.Fatal(err)
			}
			cols := 1 // the shared embedding has one scale
			if name != "model.shared.weight" {
				cols = int(w.GetDims()[1])
				linears++
			}
			m2mCheckInt8(t, dir, file, name, values, cols, quant)
		}
		if want := map[string]int{"encoder_model": 6 * d.EncoderLayers, "decoder_model": 10 * d.DecoderLayers,
			"decoder_with_past_model": 8 * d.DecoderLayers, "decoder_model_merged": 10 * d.DecoderLayers}[base]; linears != want {
			t.Errorf("%s: %d linear weights quantized, want %d", file, linears, want)
		}

		ops := map[string]int{}
		var constMatMuls []string
		m2mOps(qm.GetGraph(), quant, ops, &constMatMuls)
		if len(constMatMuls) > 0 {
			t.Errorf("%s: MatMul still reads the float weights %v", file, constMatMuls)
		}
		products := linears
		if base != "encoder_model" {
			products++ // the LM head
		}
		if base == "decoder_model_merged" {
			// Both branches run the decoder; the with-past one skips the
			// cross-attention key/value projections.
			products = 2*products - 2*d.DecoderLayers
		}
		if ops["MatMulInteger"] != products || ops["DynamicQuantizeLinear"] != products {
			t.Errorf("%s: %d MatMulInteger and %d DynamicQuantizeLinear, want %d of each", file, ops["MatMulInteger"], ops["DynamicQuantizeLinear"], products)
		}
	}
}

// m2mCheckInt8 checks the int8 form of one weight: values in [-64, 64]
// reaching the range's end in every column, zero points 0, and values ×
// scale within half a step of the float weight.
func m2mCheckInt8(t *testing.T, dir, file, name string, w []float32, cols int, quant map[string]*onnxfile.TensorProto) {
	t.Helper()
	q, scale, zero := quant[name+"_quantized"], quant[name+"_scale"], quant[name+"_zero_point"]
	if q == nil || scale == nil || zero == nil || q.GetDataType() != int32(onnxfile.Int8) || zero.GetDataType() != int32(onnxfile.Int8) {
		t.Errorf("%s: %s has no int8 values, scale and int8 zero point", file, name)
		return
	}
	raw, err := onnxfile.ByteValues(q, dir)
	if err != nil {
		t.Fatal(err)
	}
	scales, err := onnxfile.Float32Values(scale, dir)
	if err != nil {
		t.Fatal(err)
	}
	zeros, err := onnxfile.ByteValues(zero, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != len(w) || len(scales) != cols || len(zeros) != cols {
		t.Errorf("%s: %s has %d values, %d scales, %d zero points; want %d, %d, %d", file, name, len(raw), len(scales), len(zeros), len(w), cols, cols)
		return
	}
	reached := make([]bool, cols)
	for i, b := range raw {
		v, col := int8(b), i%cols
		if v < -64 || v > 64 {
			t.Errorf("%s: %s[%d] = %d is outside [-64, 64]", file, name, i, v)
			return
		}
		reached[col] = reached[col] || v == 64 || v == -64
		if diff := math.Abs(float64(v)*float64(scales[col]) - float64(w[i])); diff > 0.5001*float64(scales[col]) {
			t.Errorf("%s: %s[%d] dequantizes to %g, the float weight is %g", file, name, i, float64(v)*float64(scales[col]), w[i])
			return
		}
	}
	for col, ok := range reached {
		if !ok || zeros[col] != 0 {
			t.Errorf("%s: %s column %d: range end reached %v, zero point %d", file, name, col, ok, int8(zeros[col]))
			return
		}
	}
}

// The quantized merged decoder keeps every weight once in its main graph,
// as the fp32 one does: the branches hold only small constants.
func TestM2M100Int8MergedDecoderStoresWeightsOnce(t *testing.T) {
	dir, _ := tinyM2M100(t, 0)
	m, err := onnxfile.ReadModel(filepath.Join(dir, "onnx", "decoder_model_merged_quantized.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, init := range m.GetGraph().GetInitializer() {
		if seen[init.GetName()] {
			t.Errorf("%s is stored twice", init.GetName())
		}
		seen[init.GetName()] = true
	}
	for _, n := range m.GetGraph().GetNode() {
		for _, a := range n.GetAttribute() {
			if g := a.GetG(); g != nil {
				for _, init := range g.GetInitializer() {
					if n := len(init.GetRawData()) + len(init.GetFloatData()) + len(init.GetInt64Data()); n > 32 {
						t.Errorf("branch %s holds %s (%d values)", g.GetName(), init.GetName(), n)
					}
				}
			}
		}
	}
	if !seen["model.shared.weight_quantized"] || seen["model.shared.weight"] {
		t.Error(fmt.Sprintf("want the int8 shared embedding and no float32 one; have int8 %v, float32 %v", seen["model.shared.weight_quantized"], seen["model.shared.weight"]))
	}
}
