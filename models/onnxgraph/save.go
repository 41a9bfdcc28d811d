package onnxgraph

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
)

// DefaultOpset is the default-domain opset a new model imports.
const DefaultOpset = 17

// irVersion is the IR version that goes with opset 17 (ONNX 1.12).
const irVersion = 8

// Field numbers of onnx.proto that the streaming writer emits by hand.
const (
	modelGraphField       = 7 // ModelProto.graph
	graphInitializerField = 5 // GraphProto.initializer
	tensorRawDataField    = 9 // TensorProto.raw_data
)

// protobufLimit is the largest message protobuf parsers accept (2 GiB); a
// model whose weights would pass it keeps them in an external data file.
const protobufLimit = 1<<31 - 1

// externalMinBytes keeps small tensors inline even in external-data models,
// as the onnx Python package does, so shapes and scalars stay readable.
const externalMinBytes = 1024

// Model is a graph plus the metadata a runtime needs to load it.
type Model struct {
	Graph *Graph
	// Opsets maps operator set domains to versions; "" is the default ONNX
	// domain. Add "com.microsoft" to use ONNX Runtime contrib ops.
	Opsets   map[string]int64
	Producer string
	// Metadata is written as metadata_props.
	Metadata map[string]string
	// ExternalData forces weights into "<file>_data" beside the model even
	// when they would fit inline (used by tests; large models switch on
	// their own).
	ExternalData bool
}

// NewModel wraps g with the default opset.
func NewModel(g *Graph) *Model {
	return &Model{Graph: g, Opsets: map[string]int64{"": DefaultOpset}, Producer: "edgeinfer"}
}

// Save writes the model to path, replacing it atomically. Initializers are
// streamed as raw little-endian bytes; when they would pass the protobuf
// limit (or ExternalData is set), tensors of 1 KiB and more go to
// path+"_data" with offsets recorded in the model, the layout ONNX Runtime
// loads and optimum writes ("model.onnx_data").
func (m *Model) Save(path string) error {
	var weights int64
	for _, t := range m.Graph.inits {
		weights += t.ByteSize()
	}
	external := m.ExternalData || weights > protobufLimit-(64<<20)
	dataPath := path + "_data"

	var entries [][]byte // per initializer: the TensorProto minus raw_data
	var offset int64
	for _, t := range m.Graph.inits {
		h := t.header()
		if external && t.ByteSize() >= externalMinBytes {
			loc := onnxfile.TensorProto_EXTERNAL
			h.DataLocation = &loc
			h.ExternalData = []*onnxfile.StringStringEntryProto{
				kv("location", filepath.Base(dataPath)),
				kv("offset", strconv.FormatInt(offset, 10)),
				kv("length", strconv.FormatInt(t.ByteSize(), 10)),
			}
			offset += t.ByteSize()
		}
		b, err := proto.Marshal(h)
		if err != nil {
			return fmt.Errorf("onnxgraph: encode %s: %w", t.Name, err)
		}
		entries = append(entries, b)
	}

	head, err := proto.Marshal(m.header())
	if err != nil {
		return fmt.Errorf("onnxgraph: encode model: %w", err)
	}
	graph, err := proto.Marshal(m.Graph.proto(false))
	if err != nil {
		return fmt.Errorf("onnxgraph: encode graph: %w", err)
	}
	inline := func(t *Tensor) bool { return !external || t.ByteSize() < externalMinBytes }

	graphLen := int64(len(graph))
	for i, t := range m.Graph.inits {
		n := int64(len(entries[i]))
		if inline(t) {
			n += rawFieldSize(t.ByteSize())
		}
		graphLen += int64(protowire.SizeTag(graphInitializerField)) + int64(protowire.SizeVarint(uint64(n))) + n
	}
	if graphLen > protobufLimit {
		return fmt.Errorf("onnxgraph: graph of %d bytes passes the protobuf limit even with external data", graphLen)
	}

	// The data file goes first so a model never names data that is missing.
	if external {
		err := writeAtomic(dataPath, func(w io.Writer) error {
			for _, t := range m.Graph.inits {
				if !inline(t) {
					if err := t.writeRaw(w); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	} else if err := os.Remove(dataPath); err != nil && !os.IsNotExist(err) {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error {
		b := append([]byte(nil), head...)
		b = protowire.AppendTag(b, modelGraphField, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(graphLen))
		b = append(b, graph...)
		if _, err := w.Write(b); err != nil {
			return err
		}
		for i, t := range m.Graph.inits {
			n := int64(len(entries[i]))
			if inline(t) {
				n += rawFieldSize(t.ByteSize())
			}
			b = protowire.AppendTag(b[:0], graphInitializerField, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(n))
			b = append(b, entries[i]...)
			if inline(t) {
				b = protowire.AppendTag(b, tensorRawDataField, protowire.BytesType)
				b = protowire.AppendVarint(b, uint64(t.ByteSize()))
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
			if inline(t) {
				if err := t.writeRaw(w); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// header is the ModelProto without its graph.
func (m *Model) header() *onnxfile.ModelProto {
	mp := &onnxfile.ModelProto{
		IrVersion:    proto.Int64(irVersion),
		ProducerName: proto.String(m.Producer),
	}
	domains := make([]string, 0, len(m.Opsets))
	for d := range m.Opsets {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	for _, d := range domains {
		mp.OpsetImport = append(mp.OpsetImport, &onnxfile.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(m.Opsets[d])})
	}
	keys := make([]string, 0, len(m.Metadata))
	for k := range m.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		mp.MetadataProps = append(mp.MetadataProps, kv(k, m.Metadata[k]))
	}
	return mp
}

func kv(k, v string) *onnxfile.StringStringEntryProto {
	return &onnxfile.StringStringEntryProto{Key: &k, Value: &v}
}

// rawFieldSize is the encoded size of a raw_data field holding n bytes.
func rawFieldSize(n int64) int64 {
	return int64(protowire.SizeTag(tensorRawDataField)) + int64(protowire.SizeVarint(uint64(n))) + n
}

// writeAtomic writes through a temporary file in the same directory and
// renames it into place, so a crash never leaves a truncated model behind.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("onnxgraph: write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("onnxgraph: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("onnxgraph: write %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
