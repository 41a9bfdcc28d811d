package onnxgraph

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
)

// DataType is an ONNX tensor element type (onnxfile.DataType).
type DataType = onnxfile.DataType

// Element types the builder can hold as initializer data or declare on
// inputs and outputs.
const (
	Float   = onnxfile.Float
	Float16 = onnxfile.Float16
	Int64   = onnxfile.Int64
	Int32   = onnxfile.Int32
	Int8    = onnxfile.Int8
	Uint8   = onnxfile.Uint8
	Bool    = onnxfile.Bool
)

// Tensor is a constant value: an initializer or a tensor attribute. Its data
// is held by reference and encoded only when the model is written, so large
// weights are never copied into protobuf messages.
type Tensor struct {
	Name string
	Type DataType
	// Dims is the shape; empty for a scalar.
	Dims []int64
	data any
}

// Float32Tensor wraps data (row-major, len = product of dims).
func Float32Tensor(name string, dims []int64, data []float32) *Tensor {
	return newTensor(name, Float, dims, data, len(data))
}

// Int64Tensor wraps data (row-major, len = product of dims).
func Int64Tensor(name string, dims []int64, data []int64) *Tensor {
	return newTensor(name, Int64, dims, data, len(data))
}

// Int32Tensor wraps data (row-major, len = product of dims).
func Int32Tensor(name string, dims []int64, data []int32) *Tensor {
	return newTensor(name, Int32, dims, data, len(data))
}

// Int8Tensor wraps data (row-major, len = product of dims).
func Int8Tensor(name string, dims []int64, data []int8) *Tensor {
	return newTensor(name, Int8, dims, data, len(data))
}

// Uint8Tensor wraps data (row-major, len = product of dims).
func Uint8Tensor(name string, dims []int64, data []uint8) *Tensor {
	return newTensor(name, Uint8, dims, data, len(data))
}

// Float16Tensor wraps IEEE half-precision values given as their bit patterns.
func Float16Tensor(name string, dims []int64, bits []uint16) *Tensor {
	return newTensor(name, Float16, dims, bits, len(bits))
}

// BoolTensor wraps data (row-major, len = product of dims).
func BoolTensor(name string, dims []int64, data []bool) *Tensor {
	return newTensor(name, Bool, dims, data, len(data))
}

// newTensor panics on a length mismatch: shapes come from code, so a
// mismatch is a bug in the caller, not a runtime condition.
func newTensor(name string, t DataType, dims []int64, data any, n int) *Tensor {
	if want := NumElements(dims); int64(n) != want {
		panic(fmt.Sprintf("onnxgraph: tensor %q has %d elements, dims %v need %d", name, n, dims, want))
	}
	return &Tensor{Name: name, Type: t, Dims: append([]int64(nil), dims...), data: data}
}

// NumElements is the product of dims (1 for a scalar).
func NumElements(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

// ByteSize is the size of the tensor's raw little-endian encoding.
func (t *Tensor) ByteSize() int64 {
	return NumElements(t.Dims) * int64(elemSize(t.Type))
}

func elemSize(t DataType) int {
	switch t {
	case Float, Int32:
		return 4
	case Int64:
		return 8
	case Int8, Uint8, Bool:
		return 1
	case Float16:
		return 2
	}
	panic(fmt.Sprintf("onnxgraph: no element size for %v", t))
}

// header is the TensorProto without its payload.
func (t *Tensor) header() *onnxfile.TensorProto {
	dt := int32(t.Type)
	return &onnxfile.TensorProto{Name: &t.Name, DataType: &dt, Dims: t.Dims}
}

// proto returns the tensor with its data inline as raw_data; meant for
// small tensors (attributes, subgraph constants).
func (t *Tensor) proto() *onnxfile.TensorProto {
	p := t.header()
	p.RawData = t.appendRaw(make([]byte, 0, t.ByteSize()))
	return p
}

// appendRaw appends the little-endian encoding of the data, as raw_data
// requires on every platform.
func (t *Tensor) appendRaw(b []byte) []byte {
	switch d := t.data.(type) {
	case []float32:
		for _, v := range d {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	case []int64:
		for _, v := range d {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	case []int32:
		for _, v := range d {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
	case []uint16:
		for _, v := range d {
			b = binary.LittleEndian.AppendUint16(b, v)
		}
	case []int8:
		for _, v := range d {
			b = append(b, byte(v))
		}
	case []uint8:
		b = append(b, d...)
	case []bool:
		for _, v := range d {
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	default:
		panic(fmt.Sprintf("onnxgraph: tensor %q holds unsupported %T", t.Name, t.data))
	}
	return b
}

// writeRaw streams the raw encoding through a bounded buffer so writing a
// gigabyte of weights costs no gigabyte of memory.
func (t *Tensor) writeRaw(w io.Writer) error {
	const chunk = 1 << 16
	buf := make([]byte, 0, chunk*8)
	n := int(NumElements(t.Dims))
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		part := Tensor{Name: t.Name, Type: t.Type, data: slice(t.data, lo, hi)}
		if _, err := w.Write(part.appendRaw(buf[:0])); err != nil {
			return err
		}
	}
	return nil
}

func slice(data any, lo, hi int) any {
	switch d := data.(type) {
	case []float32:
		return d[lo:hi]
	case []int64:
		return d[lo:hi]
	case []int32:
		return d[lo:hi]
	case []uint16:
		return d[lo:hi]
	case []int8:
		return d[lo:hi]
	case []uint8:
		return d[lo:hi]
	case []bool:
		return d[lo:hi]
	}
	panic(fmt.Sprintf("onnxgraph: unsupported tensor data %T", data))
}
