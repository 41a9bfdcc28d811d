// Package onnxgraph builds ONNX models in Go: declared inputs and outputs
// with fixed or named dynamic dimensions, initializers from Go slices, nodes
// with attributes, subgraphs for control flow (If, Loop), and a writer that
// streams weights to disk as raw bytes (inline, or as external data beside
// the model when it would pass protobuf's 2 GiB limit).
//
// Value names are SSA, as ONNX requires: every name is defined once across
// the graph and all its subgraphs. Builder misuse (a duplicate name, data
// that does not fill its shape) is a programming error and panics.
package onnxgraph

import (
	"fmt"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
)

// Dim is one axis of a declared input or output (onnxfile.Dim).
type Dim = onnxfile.Dim

// Fixed is an axis of known size.
func Fixed(n int64) Dim { return onnxfile.Fixed(n) }

// Dynamic is an axis whose size is chosen at run time; axes with the same
// name must agree.
func Dynamic(name string) Dim { return onnxfile.Dynamic(name) }

// Attr is a node attribute; build one with the Attr* functions.
type Attr = *onnxfile.AttributeProto

// names is the value namespace shared by a graph and all its subgraphs.
type names struct {
	defined map[string]bool
	seq     map[string]int
}

// Graph is a computation graph under construction.
type Graph struct {
	name    string
	ns      *names
	inputs  []*onnxfile.ValueInfoProto
	outputs []*onnxfile.ValueInfoProto
	nodes   []*onnxfile.NodeProto
	inits   []*Tensor
}

// NewGraph starts an empty top-level graph.
func NewGraph(name string) *Graph {
	return &Graph{name: name, ns: &names{defined: map[string]bool{}, seq: map[string]int{}}}
}

// Subgraph starts a graph for a control-flow attribute (If's then_branch,
// Loop's body). It shares this graph's namespace and may read any value of
// the enclosing graphs by name; give it to a node with AttrGraph once built.
func (g *Graph) Subgraph(name string) *Graph {
	return &Graph{name: name, ns: g.ns}
}

// Name is the graph's name.
func (g *Graph) Name() string { return g.name }

// Fresh returns an unused value name starting with prefix, for callers that
// need a name before the node that defines it.
func (g *Graph) Fresh(prefix string) string {
	for {
		g.ns.seq[prefix]++
		name := fmt.Sprintf("%s_%d", prefix, g.ns.seq[prefix])
		if !g.ns.defined[name] {
			return name
		}
	}
}

func (g *Graph) define(name string) {
	if name == "" {
		return // an omitted optional output
	}
	if g.ns.defined[name] {
		panic(fmt.Sprintf("onnxgraph: value %q defined twice", name))
	}
	g.ns.defined[name] = true
}

// Input declares a graph input and returns its name.
func (g *Graph) Input(name string, t DataType, dims ...Dim) string {
	g.define(name)
	g.inputs = append(g.inputs, valueInfo(name, t, dims))
	return name
}

// Output declares an existing value (a node output, input or initializer)
// as a graph output. A subgraph's outputs are its results, in order.
func (g *Graph) Output(value string, t DataType, dims ...Dim) {
	if !g.ns.defined[value] {
		panic(fmt.Sprintf("onnxgraph: output %q is not a defined value", value))
	}
	g.outputs = append(g.outputs, valueInfo(value, t, dims))
}

// OutputUnshaped declares an output whose shape is left to inference (a
// subgraph result, for instance); rank and sizes are then not checked.
func (g *Graph) OutputUnshaped(value string, t DataType) {
	if !g.ns.defined[value] {
		panic(fmt.Sprintf("onnxgraph: output %q is not a defined value", value))
	}
	vi := valueInfo(value, t, nil)
	vi.Type.GetTensorType().Shape = nil
	g.outputs = append(g.outputs, vi)
}

func valueInfo(name string, t DataType, dims []Dim) *onnxfile.ValueInfoProto {
	shape := &onnxfile.TensorShapeProto{Dim: make([]*onnxfile.TensorShapeProto_Dimension, len(dims))}
	for i, d := range dims {
		if d.Param != "" {
			shape.Dim[i] = &onnxfile.TensorShapeProto_Dimension{Value: &onnxfile.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}}
		} else {
			shape.Dim[i] = &onnxfile.TensorShapeProto_Dimension{Value: &onnxfile.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}}
		}
	}
	et := int32(t)
	return &onnxfile.ValueInfoProto{
		Name: &name,
		Type: &onnxfile.TypeProto{Value: &onnxfile.TypeProto_TensorType{TensorType: &onnxfile.TypeProto_Tensor{ElemType: &et, Shape: shape}}},
	}
}

// Initializer adds a constant to the graph and returns its name.
func (g *Graph) Initializer(t *Tensor) string {
	g.define(t.Name)
	g.inits = append(g.inits, t)
	return t.Name
}

// Float32 adds a float32 initializer and returns its name.
func (g *Graph) Float32(name string, dims []int64, data []float32) string {
	return g.Initializer(Float32Tensor(name, dims, data))
}

// Int64 adds an int64 initializer and returns its name.
func (g *Graph) Int64(name string, dims []int64, data []int64) string {
	return g.Initializer(Int64Tensor(name, dims, data))
}

// Int8 adds an int8 initializer and returns its name.
func (g *Graph) Int8(name string, dims []int64, data []int8) string {
	return g.Initializer(Int8Tensor(name, dims, data))
}

// Uint8 adds a uint8 initializer and returns its name.
func (g *Graph) Uint8(name string, dims []int64, data []uint8) string {
	return g.Initializer(Uint8Tensor(name, dims, data))
}

// Ints adds an auto-named 1-D int64 constant (shapes, axes, indices).
func (g *Graph) Ints(vals ...int64) string {
	return g.Int64(g.Fresh("const_i64"), []int64{int64(len(vals))}, vals)
}

// ScalarInt adds an auto-named int64 scalar constant.
func (g *Graph) ScalarInt(v int64) string {
	return g.Int64(g.Fresh("const_i64"), nil, []int64{v})
}

// Scalar adds an auto-named float32 scalar constant.
func (g *Graph) Scalar(v float32) string {
	return g.Float32(g.Fresh("const_f32"), nil, []float32{v})
}

// Node adds a node of the default domain with explicitly named outputs and
// returns it, so callers may set a domain or a name. An empty input name
// skips an optional input, an empty output name an optional output.
func (g *Graph) Node(op string, inputs, outputs []string, attrs ...Attr) *onnxfile.NodeProto {
	for _, out := range outputs {
		g.define(out)
	}
	n := &onnxfile.NodeProto{
		OpType:    &op,
		Input:     append([]string(nil), inputs...),
		Output:    append([]string(nil), outputs...),
		Attribute: attrs,
	}
	name := g.Fresh(op)
	n.Name = &name
	g.nodes = append(g.nodes, n)
	return n
}

// Op adds a single-output node and returns the auto-named output.
func (g *Graph) Op(op string, inputs []string, attrs ...Attr) string {
	out := g.Fresh(op + "_out")
	g.Node(op, inputs, []string{out}, attrs...)
	return out
}

// OpN adds a node with n auto-named outputs and returns them.
func (g *Graph) OpN(op string, inputs []string, n int, attrs ...Attr) []string {
	outs := make([]string, n)
	for i := range outs {
		outs[i] = g.Fresh(op + "_out")
	}
	g.Node(op, inputs, outs, attrs...)
	return outs
}

// InDomain sets the operator set domain of a node, e.g. "com.microsoft"
// for ONNX Runtime contrib ops; the model must import that domain.
func InDomain(n *onnxfile.NodeProto, domain string) *onnxfile.NodeProto {
	n.Domain = &domain
	return n
}

// proto returns the graph with its initializers inline (subgraphs), or
// without them (the top-level graph, whose weights the writer streams).
func (g *Graph) proto(withInitializers bool) *onnxfile.GraphProto {
	gp := &onnxfile.GraphProto{
		Name:   &g.name,
		Node:   g.nodes,
		Input:  g.inputs,
		Output: g.outputs,
	}
	if withInitializers {
		for _, t := range g.inits {
			gp.Initializer = append(gp.Initializer, t.proto())
		}
	}
	return gp
}

// AttrInt is an integer attribute.
func AttrInt(name string, v int64) Attr {
	return &onnxfile.AttributeProto{Name: &name, Type: attrType(onnxfile.AttributeProto_INT), I: &v}
}

// AttrInts is an integer list attribute.
func AttrInts(name string, v ...int64) Attr {
	return &onnxfile.AttributeProto{Name: &name, Type: attrType(onnxfile.AttributeProto_INTS), Ints: v}
}

// AttrFloat is a float attribute.
func AttrFloat(name string, v float32) Attr {
	return &onnxfile.AttributeProto{Name: &name, Type: attrType(onnxfile.AttributeProto_FLOAT), F: &v}
}

// AttrFloats is a float list attribute.
func AttrFloats(name string, v ...float32) Attr {
	return &onnxfile.AttributeProto{Name: &name, Type: attrType(onnxfile.AttributeProto_FLOATS), Floats: v}
}

// AttrString is a string attribute.
func AttrString(name, v string) Attr {
	return &onnxfile.AttributeProto{Name: &name, Type: attrType(onnxfile.AttributeProto_STRING), S: []byte(v)}
}

// AttrTensor is a tensor attribute (Constant's value, for instance), stored
// inline.
func AttrTensor(name string, t *Tensor) Attr {
	return &onnxfile.AttributeProto{Name: &name, Type: attrType(onnxfile.AttributeProto_TENSOR), T: t.proto()}
}

// AttrGraph is a graph attribute (If's branches, Loop's body). The subgraph
// is captured when this is called, so build it completely first; its
// initializers are stored inline, so keep large weights in the top-level
// graph and read them from the subgraph by name.
func AttrGraph(name string, sub *Graph) Attr {
	return &onnxfile.AttributeProto{Name: &name, Type: attrType(onnxfile.AttributeProto_GRAPH), G: sub.proto(true)}
}

func attrType(t onnxfile.AttributeProto_AttributeType) *onnxfile.AttributeProto_AttributeType {
	return &t
}
