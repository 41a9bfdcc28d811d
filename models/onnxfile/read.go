package onnxfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"
)

// Value describes a declared graph input or output.
type Value struct {
	Name string
	Type DataType
	Dims []Dim
}

// ReadModel parses a whole ONNX file. Initializers stored as external data
// stay external; read them with Float32Values and friends.
func ReadModel(path string) (*ModelProto, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := &ModelProto{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("onnxfile: parse %s: %w", path, err)
	}
	return m, nil
}

func valueOf(vi *ValueInfoProto) Value {
	tt := vi.GetType().GetTensorType()
	v := Value{Name: vi.GetName(), Type: DataType(tt.GetElemType())}
	for _, d := range tt.GetShape().GetDim() {
		if p := d.GetDimParam(); p != "" {
			v.Dims = append(v.Dims, Dynamic(p))
		} else {
			v.Dims = append(v.Dims, Fixed(d.GetDimValue()))
		}
	}
	return v
}

// Initializers indexes a graph's initializers by name.
func Initializers(g *GraphProto) map[string]*TensorProto {
	m := make(map[string]*TensorProto, len(g.GetInitializer()))
	for _, t := range g.GetInitializer() {
		m[t.GetName()] = t
	}
	return m
}

// Float32Values decodes a float32 tensor; dir is the model's directory, for
// external data.
func Float32Values(t *TensorProto, dir string) ([]float32, error) {
	if DataType(t.GetDataType()) != Float {
		return nil, fmt.Errorf("onnxfile: %s is %v, not float32", t.GetName(), DataType(t.GetDataType()))
	}
	if len(t.GetFloatData()) > 0 {
		return t.GetFloatData(), nil
	}
	raw, err := rawBytes(t, dir)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}

// Int64Values decodes an int64 tensor; dir is the model's directory.
func Int64Values(t *TensorProto, dir string) ([]int64, error) {
	if DataType(t.GetDataType()) != Int64 {
		return nil, fmt.Errorf("onnxfile: %s is %v, not int64", t.GetName(), DataType(t.GetDataType()))
	}
	if len(t.GetInt64Data()) > 0 {
		return t.GetInt64Data(), nil
	}
	raw, err := rawBytes(t, dir)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(raw)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return out, nil
}

// ByteValues returns the raw bytes of an int8 or uint8 tensor; dir is the
// model's directory.
func ByteValues(t *TensorProto, dir string) ([]byte, error) {
	switch DataType(t.GetDataType()) {
	case Int8, Uint8:
		return rawBytes(t, dir)
	}
	return nil, fmt.Errorf("onnxfile: %s is %v, not 8-bit", t.GetName(), DataType(t.GetDataType()))
}

func rawBytes(t *TensorProto, dir string) ([]byte, error) {
	if t.GetDataLocation() != TensorProto_EXTERNAL {
		return t.GetRawData(), nil
	}
	ext := map[string]string{}
	for _, e := range t.GetExternalData() {
		ext[e.GetKey()] = e.GetValue()
	}
	if ext["location"] == "" {
		return nil, errors.New("onnxfile: external tensor " + t.GetName() + " has no location")
	}
	offset, _ := strconv.ParseInt(ext["offset"], 10, 64)
	length, err := strconv.ParseInt(ext["length"], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("onnxfile: external tensor %s: bad length: %w", t.GetName(), err)
	}
	f, err := os.Open(filepath.Join(dir, ext["location"]))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil {
		return nil, fmt.Errorf("onnxfile: external tensor %s: %w", t.GetName(), err)
	}
	return buf, nil
}
