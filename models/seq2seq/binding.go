package seq2seq

import (
	"fmt"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/ort"
)

// Binding collects the tensors of one run so they can be released together.
type Binding struct {
	values  map[string]onnx.Value
	outputs []onnx.Value
	sess    *ort.Session
	err     error
}

// NewBinding starts the bindings of one run of sess.
func NewBinding(sess *ort.Session) *Binding {
	return &Binding{values: map[string]onnx.Value{}, outputs: make([]onnx.Value, len(sess.Outputs())), sess: sess}
}

// AddTensor binds an input; Run leaves out inputs the session does not
// declare.
func AddTensor[T onnx.TensorData](b *Binding, name string, data []T, shape ...int64) {
	if b.err != nil {
		return
	}
	t, err := onnx.NewTensor(onnx.NewShape(shape...), data)
	if err != nil {
		b.err = fmt.Errorf("input %s: %w", name, err)
		return
	}
	b.values[name] = t
}

// Output binds a declared output to a caller buffer (ignored when the
// session does not declare it), so ORT writes in place.
func (b *Binding) Output(name string, data []float32, shape ...int64) {
	i := b.sess.OutputIndex(name)
	if b.err != nil || i < 0 {
		return
	}
	t, err := onnx.NewTensor(onnx.NewShape(shape...), data)
	if err != nil {
		b.err = fmt.Errorf("output %s: %w", name, err)
		return
	}
	b.outputs[i] = t
}

// Run binds the declared inputs (values the session does not declare are
// left out) and runs; outputs left unbound are allocated by ORT and freed.
func (b *Binding) Run() error {
	defer b.release()
	if b.err != nil {
		return b.err
	}
	inputs, err := b.sess.BindInputs(b.values)
	if err != nil {
		return err
	}
	return b.sess.Run(inputs, b.outputs)
}

func (b *Binding) release() {
	for _, v := range b.values {
		v.Destroy()
	}
	for _, v := range b.outputs {
		if v != nil {
			v.Destroy()
		}
	}
}

// Workspace holds buffers every cohort of a model uses in turn; only the
// scheduler goroutine touches it.
type Workspace struct {
	logits []float32
	// discard receives outputs nobody reads (the presents of a
	// recomputation), per
	// layer and kind: the graph may read an output it produced, so no two
	// outputs may share memory.
	discard [][4][]float32
	// attention receives the cross-attention weights of one run, per layer.
	attention [][]float32
}

// discardBuf returns the discard buffer of one layer and kind, n long.
func (w *Workspace) discardBuf(layer, kind, n int) []float32 {
	for len(w.discard) <= layer {
		w.discard = append(w.discard, [4][]float32{})
	}
	w.discard[layer][kind] = Grow(w.discard[layer][kind], n)
	return w.discard[layer][kind]
}

// attentionBuf returns the cross-attention buffer of one layer, n long.
func (w *Workspace) attentionBuf(layer, n int) []float32 {
	for len(w.attention) <= layer {
		w.attention = append(w.attention, nil)
	}
	w.attention[layer] = Grow(w.attention[layer], n)
	return w.attention[layer]
}

// Grow returns buf resized to n, reallocating only when it is too small.
func Grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

// lastLogits returns, per row, the logits of the last position of a
// [rows, steps, vocab] buffer.
func lastLogits(buf []float32, rows, steps, vocab int) [][]float32 {
	out := make([][]float32, rows)
	for r := range out {
		off := (r*steps + steps - 1) * vocab
		out[r] = buf[off : off+vocab]
	}
	return out
}

// gatherRows copies rows src[i] of a [rows, width] buffer into row i of dst.
func gatherRows[T any](dst, src []T, width int, rows []int) []T {
	dst = Grow(dst, len(rows)*width)
	for i, r := range rows {
		copy(dst[i*width:(i+1)*width], src[r*width:(r+1)*width])
	}
	return dst
}
