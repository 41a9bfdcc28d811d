package resnet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/imageprep"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// topK is how many labels Workers AI returns.
const topK = 5

// pixels is one preprocessed image, CHW float32, waiting for a batch.
type pixels struct {
	data []float32
}

// Model is a loaded image classifier.
type Model struct {
	sess   *ort.Session
	proc   *imageprep.Processor
	limits imageprep.Limits
	labels []string
	input  string
	output int // index among the session's outputs
	h, w   int
	sched  *batch.Scheduler[*pixels, []float32]
	free   sync.Pool // *pixels whose batch has run
	// buffers holds *batchBuffers: batches run concurrently, one per
	// scheduler instance, and each needs its own tensors' memory.
	buffers sync.Pool
}

// The engine reaches a loaded model through these interfaces; the build
// fails if a method goes missing.
var (
	_ engine.Model      = (*Model)(nil)
	_ engine.Classifier = (*Model)(nil)
	_ engine.Placed     = (*Model)(nil)
)

// batchBuffers back one batch's input and output tensors, float32 or
// float16 as the model declares them.
type batchBuffers struct {
	in, out ort.Floats
}

func newModel(spec engine.ModelSpec, sess *ort.Session, proc *imageprep.Processor, labels []string, limits imageprep.Limits) (*Model, error) {
	h, w, ok := proc.OutputSize()
	if !ok {
		return nil, errors.New("the preprocessing has no fixed output size")
	}
	// jpeg_dct_scaling (off by default): see imageprep.Processor.DCTScaling.
	proc.DCTScaling = spec.Config.JPEGDCTScaling
	m := &Model{sess: sess, proc: proc, limits: limits, labels: labels, h: h, w: w}
	if err := m.bind(); err != nil {
		return nil, err
	}
	m.free.New = func() any { return &pixels{data: make([]float32, proc.Len())} }
	inType, outType := sess.Inputs()[0].Type, sess.Outputs()[m.output].Type
	m.buffers.New = func() any {
		return &batchBuffers{in: ort.Floats{Type: inType}, out: ort.Floats{Type: outType}}
	}
	m.sched = batch.New(schedulerConfig(spec, sess.OnGPU()), func(*pixels) int { return 1 }, m.runBatch)
	return m, nil
}

// bind finds the image input and the logits output by their names in
// either export (pixel_values/data, logits/resnetv17_dense0_fwd), else the
// only one declared, and checks their shapes against the preprocessing
// and the labels.
func (m *Model) bind() error {
	ins, outs := m.sess.Inputs(), m.sess.Outputs()
	in := pick(ins, "pixel_values", "data")
	if in < 0 {
		return fmt.Errorf("%s: no image input (want pixel_values or data, or a single input; has %v)", m.sess.Path(), ins)
	}
	out := pick(outs, "logits")
	if out < 0 {
		return fmt.Errorf("%s: no logits output (want logits, or a single output; has %v)", m.sess.Path(), outs)
	}
	if len(ins) != 1 {
		return fmt.Errorf("%s: takes %d inputs; an image classifier takes one", m.sess.Path(), len(ins))
	}
	shape := ins[in].Shape
	fits := func(dim int64, want int) bool { return dim < 0 || dim == int64(want) }
	if len(shape) != 4 || !fits(shape[1], 3) || !fits(shape[2], m.h) || !fits(shape[3], m.w) {
		return fmt.Errorf("%s: input %s has shape %v, but the preprocessing makes [N 3 %d %d]", m.sess.Path(), ins[in].Name, shape, m.h, m.w)
	}
	if oshape := outs[out].Shape; len(oshape) != 2 || !fits(oshape[1], len(m.labels)) {
		return fmt.Errorf("%s: output %s has shape %v, but there are %d labels", m.sess.Path(), outs[out].Name, oshape, len(m.labels))
	}
	for _, info := range []ort.Info{ins[in], outs[out]} {
		if err := ort.CheckFloat(m.sess.Path(), info); err != nil {
			return err
		}
	}
	m.input, m.output = ins[in].Name, out
	return nil
}

// pick returns the index of the first of names that infos declares, else
// of the only entry, else -1.
func pick(infos []ort.Info, names ...string) int {
	for _, name := range names {
		for i, info := range infos {
			if info.Name == name {
				return i
			}
		}
	}
	if len(infos) == 1 {
		return 0
	}
	return -1
}

// Placement implements engine.Placed.
func (m *Model) Placement() engine.Placement { return onnxdir.Placement(m.sess) }

// Close stops the scheduler and releases the session.
func (m *Model) Close() error {
	m.sched.Close()
	return m.sess.Close()
}

// Classify implements engine.Classifier. Admission comes first, so a
// request refused with 429 costs no decoding.
func (m *Model) Classify(ctx context.Context, in *engine.ImageInput) ([]engine.Classification, error) {
	adm, err := m.sched.Admit(ctx)
	if err != nil {
		return nil, err
	}
	defer adm.Release()
	px, err := m.prepare(ctx, in.Image)
	if err != nil {
		return nil, err
	}
	logits, err := adm.Submit(ctx, []*pixels{px})
	if err != nil {
		// px is not reused: a cancelled request's batch may still read it.
		return nil, err
	}
	m.free.Put(px)
	return top(logits[0], m.labels, topK), nil
}

// prepare decodes and preprocesses one image under batch.Prepare, the
// bound on request-side CPU work that tokenizing shares: a burst of large
// images then queues for a core instead of starving the inference threads,
// and decoding the next images overlaps the batch that is running.
func (m *Model) prepare(ctx context.Context, data []byte) (*pixels, error) {
	var px *pixels
	var err error
	if waitErr := batch.Prepare(ctx, func() { px, err = m.decodeAndPrepare(data) }); waitErr != nil {
		return nil, waitErr
	}
	return px, err
}

// decodeAndPrepare turns image bytes into one model input.
func (m *Model) decodeAndPrepare(data []byte) (*pixels, error) {
	img, err := m.proc.Decode(data, m.limits)
	if err != nil {
		return nil, imageError(err)
	}
	px := m.free.Get().(*pixels)
	if err := m.proc.Prepare(img, px.data); err != nil {
		return nil, engine.Internal(err)
	}
	return px, nil
}

// imageError maps a decode failure to the engine's vocabulary: too many
// pixels is 413, anything else about the bytes is 400.
func imageError(err error) error {
	var e *imageprep.Error
	if !errors.As(err, &e) {
		return engine.Internal(err)
	}
	if errors.Is(err, imageprep.ErrTooLarge) {
		return engine.TooLarge("image", "%s", e.Message)
	}
	return engine.BadInput("image", "%s", e.Message)
}

// runBatch stacks the images into one [N, 3, H, W] tensor and runs the
// model; it returns each image's logits. The scheduler's instances call it
// concurrently; ONNX Runtime's Run is safe for that.
func (m *Model) runBatch(items []*pixels) ([][]float32, error) {
	n, size, classes := len(items), 3*m.h*m.w, len(m.labels)
	buf := m.buffers.Get().(*batchBuffers)
	defer m.buffers.Put(buf)
	buf.in.Resize(n * size)
	for i, px := range items {
		copy(buf.in.Data[i*size:(i+1)*size], px.data)
	}
	in, err := buf.in.Input(onnx.NewShape(int64(n), 3, int64(m.h), int64(m.w)))
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	buf.out.Resize(n * classes)
	out, err := buf.out.Output(onnx.NewShape(int64(n), int64(classes)))
	if err != nil {
		return nil, err
	}
	defer out.Destroy()
	inputs, err := m.sess.BindInputs(map[string]onnx.Value{m.input: in})
	if err != nil {
		return nil, err
	}
	if err := m.sess.RunInto(inputs, m.output, out); err != nil {
		return nil, err
	}
	buf.out.Decode(0, n*classes)
	logits := make([][]float32, n)
	for i := range logits {
		logits[i] = append([]float32(nil), buf.out.Data[i*classes:(i+1)*classes]...)
	}
	return logits, nil
}

// top returns the k most probable labels under softmax(logits), most
// probable first; equal scores keep label order. The softmax is computed
// in float64 after subtracting the largest logit, so it cannot overflow.
func top(logits []float32, labels []string, k int) []engine.Classification {
	peak := math.Inf(-1)
	for _, l := range logits {
		peak = math.Max(peak, float64(l))
	}
	probs := make([]float64, len(logits))
	var sum float64
	for i, l := range logits {
		probs[i] = math.Exp(float64(l) - peak)
		sum += probs[i]
	}
	order := make([]int, len(logits))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
	k = min(k, len(order))
	out := make([]engine.Classification, k)
	for i, idx := range order[:k] {
		out[i] = engine.Classification{Label: labels[idx], Score: float32(probs[idx] / sum)}
	}
	return out
}
