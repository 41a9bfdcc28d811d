package m2m100

import (
	"fmt"
	"regexp"
	"strconv"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/ort"
)

// decoderFiles are a model's decoder sessions: optimum's merged decoder
// (one file, use_cache_branch picks the first step or a cached step), or
// the pair decoder_model (first step) + decoder_with_past_model (cached
// steps). Exactly one of merged or first+withPast is set for cached
// decoding; recomputation needs first or merged.
type decoderFiles struct {
	merged, first, withPast *ort.Session

	layers, heads, headDim, vocab, dModel int
}

var presentName = regexp.MustCompile(`^present\.(\d+)\.decoder\.key$`)

// inspect reads the cache layout from the sessions' declared outputs:
// layers from the present.N names, heads and head size from their fixed
// axes [batch, heads, seq, head_dim].
func (d *decoderFiles) inspect() error {
	s := d.merged
	if s == nil {
		s = d.first
	}
	for _, out := range s.Outputs() {
		m := presentName.FindStringSubmatch(out.Name)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		d.layers = max(d.layers, i+1)
		if len(out.Shape) != 4 || out.Shape[1] <= 0 || out.Shape[3] <= 0 {
			return fmt.Errorf("%s: %s has shape %v, want [batch, heads, seq, head_dim] with fixed heads and head_dim", s.Path(), out.Name, out.Shape)
		}
		d.heads, d.headDim = int(out.Shape[1]), int(out.Shape[3])
	}
	if d.layers == 0 {
		return fmt.Errorf("%s declares no present.N.decoder.key outputs", s.Path())
	}
	for _, sess := range []*ort.Session{d.merged, d.first, d.withPast} {
		if sess == nil {
			continue
		}
		if i := sess.OutputIndex("logits"); i < 0 {
			return fmt.Errorf("%s declares no logits output", sess.Path())
		} else if v := sess.Outputs()[i].Shape; len(v) == 3 && v[2] > 0 && int(v[2]) != d.vocab {
			return fmt.Errorf("%s: logits have %d entries, config.json says vocab_size %d", sess.Path(), v[2], d.vocab)
		}
		for _, in := range []string{"input_ids", "encoder_attention_mask"} {
			if sess.InputIndex(in) < 0 {
				return fmt.Errorf("%s declares no %s input", sess.Path(), in)
			}
		}
	}
	return nil
}

func (d *decoderFiles) close() {
	for _, s := range []*ort.Session{d.merged, d.first, d.withPast} {
		if s != nil {
			s.Close()
		}
	}
}

// cacheName names a key/value tensor: prefix "past_key_values" or
// "present", layer i, kind 0..3 = decoder.key, decoder.value, encoder.key,
// encoder.value.
func cacheName(prefix string, layer, kind int) string {
	return prefix + "." + strconv.Itoa(layer) + "." + [4]string{"decoder.key", "decoder.value", "encoder.key", "encoder.value"}[kind]
}

// workspace holds buffers every cohort uses in turn; only the scheduler
// goroutine touches it.
type workspace struct {
	logits []float32
	// discard receives outputs nobody reads (the merged decoder's copies
	// of the cross-attention keys, the presents of a recomputation), per
	// layer and kind: the graph may read an output it produced, so no two
	// outputs may share memory.
	discard [][4][]float32
}

// discardBuf returns the discard buffer of one layer and kind, n long.
func (w *workspace) discardBuf(layer, kind, n int) []float32 {
	for len(w.discard) <= layer {
		w.discard = append(w.discard, [4][]float32{})
	}
	w.discard[layer][kind] = grow(w.discard[layer][kind], n)
	return w.discard[layer][kind]
}

// grow returns buf resized to n, reallocating only when it is too small.
func grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

// binding collects the tensors of one run so they can be released together.
type binding struct {
	values  map[string]onnx.Value
	outputs []onnx.Value
	sess    *ort.Session
	err     error
}

func newBinding(sess *ort.Session) *binding {
	return &binding{values: map[string]onnx.Value{}, outputs: make([]onnx.Value, len(sess.Outputs())), sess: sess}
}

func addTensor[T onnx.TensorData](b *binding, name string, data []T, shape ...int64) {
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

// output binds a declared output to a caller buffer (ignored when the
// session does not declare it), so ORT writes in place.
func (b *binding) output(name string, data []float32, shape ...int64) {
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

// run binds the declared inputs (values the session does not declare are
// left out) and runs; outputs left unbound are allocated by ORT and freed.
func (b *binding) run() error {
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

func (b *binding) release() {
	for _, v := range b.values {
		v.Destroy()
	}
	for _, v := range b.outputs {
		if v != nil {
			v.Destroy()
		}
	}
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
	dst = grow(dst, len(rows)*width)
	for i, r := range rows {
		copy(dst[i*width:(i+1)*width], src[r*width:(r+1)*width])
	}
	return dst
}
