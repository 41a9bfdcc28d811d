package onnxfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Field numbers ReadInterface looks at.
const (
	modelGraphField       = 7  // ModelProto.graph
	graphInitializerField = 5  // GraphProto.initializer
	graphInputField       = 11 // GraphProto.input
	graphOutputField      = 12 // GraphProto.output
	tensorNameField       = 8  // TensorProto.name
)

// ReadInterface returns the inputs a caller must feed and the outputs of an
// ONNX file, with their dynamic axis names, in declaration order. Like ONNX
// Runtime, it leaves out graph inputs that an initializer backs (old
// exports list every weight as an input). It seeks past weights instead of
// reading them, so it costs milliseconds even for gigabyte models.
func ReadInterface(path string) (inputs, outputs []Value, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := &pbReader{f: f, r: bufio.NewReaderSize(f, 64<<10)}
	var declared []Value
	initialized := map[string]bool{}
	for {
		num, typ, err := r.tag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("onnxfile: parse %s: %w", path, err)
		}
		if num != modelGraphField || typ != protowire.BytesType {
			if err := r.skip(typ); err != nil {
				return nil, nil, fmt.Errorf("onnxfile: parse %s: %w", path, err)
			}
			continue
		}
		n, err := r.varint()
		if err != nil {
			return nil, nil, fmt.Errorf("onnxfile: parse %s: %w", path, err)
		}
		if err := r.graph(r.pos+int64(n), &declared, &outputs, initialized); err != nil {
			return nil, nil, fmt.Errorf("onnxfile: parse %s: %w", path, err)
		}
	}
	for _, v := range declared {
		if !initialized[v.Name] {
			inputs = append(inputs, v)
		}
	}
	return inputs, outputs, nil
}

// pbReader reads protobuf wire format from a file, tracking its offset so
// it can seek over large fields.
type pbReader struct {
	f   *os.File
	r   *bufio.Reader
	pos int64
}

func (p *pbReader) ReadByte() (byte, error) {
	b, err := p.r.ReadByte()
	if err == nil {
		p.pos++
	}
	return b, err
}

func (p *pbReader) varint() (uint64, error) {
	v, err := binary.ReadUvarint(p)
	if errors.Is(err, io.EOF) && v != 0 {
		err = io.ErrUnexpectedEOF
	}
	return v, err
}

func (p *pbReader) tag() (protowire.Number, protowire.Type, error) {
	v, err := p.varint()
	if err != nil {
		return 0, 0, err
	}
	num, typ := protowire.DecodeTag(v)
	if num <= 0 {
		return 0, 0, errors.New("bad field number")
	}
	return num, typ, nil
}

func (p *pbReader) bytes() ([]byte, error) {
	n, err := p.varint()
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(p.r, b); err != nil {
		return nil, noEOF(err)
	}
	p.pos += int64(n)
	return b, nil
}

// discard moves n bytes forward, seeking when they are not buffered.
func (p *pbReader) discard(n int64) error {
	if n <= int64(p.r.Buffered()) {
		_, err := p.r.Discard(int(n))
		p.pos += n
		return err
	}
	if _, err := p.f.Seek(p.pos+n, io.SeekStart); err != nil {
		return err
	}
	p.r.Reset(p.f)
	p.pos += n
	return nil
}

func (p *pbReader) skip(typ protowire.Type) error {
	switch typ {
	case protowire.VarintType:
		_, err := p.varint()
		return noEOF(err)
	case protowire.Fixed64Type:
		return p.discard(8)
	case protowire.Fixed32Type:
		return p.discard(4)
	case protowire.BytesType:
		n, err := p.varint()
		if err != nil {
			return noEOF(err)
		}
		return p.discard(int64(n))
	}
	return fmt.Errorf("unsupported wire type %d", typ)
}

// graph reads a GraphProto ending at end: inputs and outputs in full,
// initializers only as far as their names.
func (p *pbReader) graph(end int64, inputs, outputs *[]Value, initialized map[string]bool) error {
	for p.pos < end {
		num, typ, err := p.tag()
		if err != nil {
			return noEOF(err)
		}
		switch {
		case (num == graphInputField || num == graphOutputField) && typ == protowire.BytesType:
			b, err := p.bytes()
			if err != nil {
				return err
			}
			vi := &ValueInfoProto{}
			if err := proto.Unmarshal(b, vi); err != nil {
				return err
			}
			if num == graphInputField {
				*inputs = append(*inputs, valueOf(vi))
			} else {
				*outputs = append(*outputs, valueOf(vi))
			}
		case num == graphInitializerField && typ == protowire.BytesType:
			n, err := p.varint()
			if err != nil {
				return noEOF(err)
			}
			name, err := p.tensorName(p.pos + int64(n))
			if err != nil {
				return err
			}
			initialized[name] = true
		default:
			if err := p.skip(typ); err != nil {
				return err
			}
		}
	}
	return nil
}

// tensorName reads a TensorProto ending at end for its name alone.
func (p *pbReader) tensorName(end int64) (string, error) {
	var name string
	for p.pos < end {
		num, typ, err := p.tag()
		if err != nil {
			return "", noEOF(err)
		}
		if num == tensorNameField && typ == protowire.BytesType {
			b, err := p.bytes()
			if err != nil {
				return "", err
			}
			name = string(b)
			continue
		}
		if err := p.skip(typ); err != nil {
			return "", err
		}
	}
	return name, nil
}

// noEOF reports a file that ends inside a message as truncated.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
