package onnxfile

// DataType is an ONNX tensor element type.
type DataType = TensorProto_DataType

// Element types edgeinfer's models hold as initializer data or declare on
// inputs and outputs.
const (
	Float   = TensorProto_FLOAT
	Float16 = TensorProto_FLOAT16
	Int64   = TensorProto_INT64
	Int32   = TensorProto_INT32
	Int8    = TensorProto_INT8
	Uint8   = TensorProto_UINT8
	Bool    = TensorProto_BOOL
)

// Dim is one axis of a declared input or output: a fixed size, or a named
// dynamic axis such as "batch_size".
type Dim struct {
	Size  int64
	Param string
}

// Fixed is an axis of known size.
func Fixed(n int64) Dim { return Dim{Size: n} }

// Dynamic is an axis whose size is chosen at run time; axes with the same
// name must agree.
func Dynamic(name string) Dim { return Dim{Param: name} }
