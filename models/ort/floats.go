package ort

import (
	"encoding/binary"
	"fmt"

	"github.com/x448/float16"
	onnx "github.com/yalue/onnxruntime_go"
)

// Float element types a model may declare for its real-valued inputs and
// outputs: float32, or float16 in a half-precision export
// (model_fp16.onnx converted without keep_io_types).
const (
	Float32 = onnx.TensorElementDataTypeFloat
	Float16 = onnx.TensorElementDataTypeFloat16
)

// CheckFloat returns an error unless info is a float32 or float16 tensor.
func CheckFloat(path string, info Info) error {
	if info.Type != Float32 && info.Type != Float16 {
		return fmt.Errorf("%s: %s is %v; edgeinfer reads float32 or float16 here", path, info.Name, info.Type)
	}
	return nil
}

// Floats backs a tensor of a declared float type while Go code reads and
// writes float32: Data for float32, or Data plus a half-precision copy the
// runtime reads and writes for float16. Reuse one across runs to keep its
// memory.
type Floats struct {
	Type onnx.TensorElementDataType
	Data []float32
	half []byte
}

// Resize makes Data n long (contents undefined), reallocating only when it
// is too small.
func (f *Floats) Resize(n int) {
	if cap(f.Data) < n {
		f.Data = make([]float32, n)
	}
	f.Data = f.Data[:n]
	if f.Type == Float16 {
		if cap(f.half) < 2*n {
			f.half = make([]byte, 2*n)
		}
		f.half = f.half[:2*n]
	}
}

// Input returns a tensor of shape holding Data, converted to half
// precision when the model wants float16. Destroy it after the run.
func (f *Floats) Input(shape onnx.Shape) (onnx.Value, error) {
	if f.Type != Float16 {
		return onnx.NewTensor(shape, f.Data)
	}
	for i, v := range f.Data {
		binary.NativeEndian.PutUint16(f.half[2*i:], float16.Fromfloat32(v).Bits())
	}
	return onnx.NewCustomDataTensor(shape, f.half, Float16)
}

// Output returns a tensor of shape that the run writes into: Data itself
// for float32; for float16 the half copy, which Decode converts. Destroy
// it after the run.
func (f *Floats) Output(shape onnx.Shape) (onnx.Value, error) {
	if f.Type != Float16 {
		return onnx.NewTensor(shape, f.Data)
	}
	return onnx.NewCustomDataTensor(shape, f.half, Float16)
}

// Decode converts elements [lo, hi) of a float16 output into Data; for
// float32 there is nothing to do. Decoding only what is read keeps a large
// output (a [batch, tokens, hidden] state of which pooling reads a few
// rows) cheap.
func (f *Floats) Decode(lo, hi int) {
	if f.Type != Float16 {
		return
	}
	for i := lo; i < hi; i++ {
		f.Data[i] = float16.Frombits(binary.NativeEndian.Uint16(f.half[2*i:])).Float32()
	}
}
