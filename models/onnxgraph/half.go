package onnxgraph

import (
	"fmt"
	"slices"

	"github.com/x448/float16"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
)

// MaxFloat16 is the largest finite half-precision value.
const MaxFloat16 = 65504

// ToFloat16 converts the graph to half precision in place, the way
// onnxconverter-common's convert_float_to_float16 does with its default
// keep_io_types=False (the form of a Hugging Face "model_fp16.onnx"):
// float32 initializers, inputs, outputs, Cast-to-float targets and float
// tensor attributes all become float16. Values beyond the half range are
// clamped to ±MaxFloat16; a float32 "lowest" used as a mask bias would
// otherwise turn into -inf, and 0·-inf is NaN.
//
// Subgraphs (If, Loop) are already encoded when they are attached, so a
// graph holding one is a caller error and panics.
func (g *Graph) ToFloat16() {
	for i, t := range g.inits {
		if t.Type == Float {
			g.inits[i] = Float16Tensor(t.Name, t.Dims, halfBits(t.data.([]float32)))
		}
	}
	for _, vi := range slices.Concat(g.inputs, g.outputs) {
		tt := vi.GetType().GetTensorType()
		if tt != nil && tt.GetElemType() == int32(Float) {
			half := int32(Float16)
			tt.ElemType = &half
		}
	}
	for _, n := range g.nodes {
		for _, a := range n.Attribute {
			switch {
			case a.GetType() == onnxfile.AttributeProto_GRAPH || a.GetType() == onnxfile.AttributeProto_GRAPHS:
				panic(fmt.Sprintf("onnxgraph: ToFloat16 cannot convert the subgraph of node %s", n.GetName()))
			case n.GetOpType() == "Cast" && a.GetName() == "to" && a.GetI() == int64(Float):
				to := int64(Float16)
				a.I = &to
			case a.GetType() == onnxfile.AttributeProto_TENSOR && a.GetT().GetDataType() == int32(Float):
				a.T = halfTensorProto(a.T)
			}
		}
	}
}

// halfBits rounds float32 values to float16 bit patterns, clamping to the
// finite half range.
func halfBits(data []float32) []uint16 {
	bits := make([]uint16, len(data))
	for i, v := range data {
		bits[i] = float16.Fromfloat32(min(max(v, -MaxFloat16), MaxFloat16)).Bits()
	}
	return bits
}

// halfTensorProto converts an inline float32 tensor attribute.
func halfTensorProto(t *onnxfile.TensorProto) *onnxfile.TensorProto {
	vals, err := onnxfile.Float32Values(t, "")
	if err != nil {
		panic(fmt.Sprintf("onnxgraph: ToFloat16: tensor attribute %s: %v", t.GetName(), err))
	}
	return Float16Tensor(t.GetName(), t.GetDims(), halfBits(vals)).proto()
}
