package ort

import (
	"errors"
	"fmt"
	"runtime"
	"slices"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
)

// OptLevel is ONNX Runtime's graph optimization level. The zero value is
// OptAll, the default.
type OptLevel int

const (
	OptAll OptLevel = iota
	OptExtended
	OptBasic
	OptDisabled
)

func (l OptLevel) ort() onnx.GraphOptimizationLevel {
	switch l {
	case OptExtended:
		return onnx.GraphOptimizationLevelEnableExtended
	case OptBasic:
		return onnx.GraphOptimizationLevelEnableBasic
	case OptDisabled:
		return onnx.GraphOptimizationLevelDisableAll
	}
	return onnx.GraphOptimizationLevelEnableAll
}

// Options configures a session; the zero value is the default.
type Options struct {
	// IntraOpThreads parallelises one operator; 0 means runtime.NumCPU().
	IntraOpThreads int
	// InterOpThreads runs independent operators concurrently; 0 means 1,
	// since sequential execution is what these graphs want.
	InterOpThreads int
	// Optimization is the graph optimization level (default: all).
	Optimization OptLevel
	// Device is cpu (the default), cuda or cuda:N. A CUDA session that
	// cannot be opened falls back to the CPU (Session.Fallback says why)
	// unless RequireDevice is set, which makes it a *DeviceError.
	Device        string
	RequireDevice bool
	// CUDA tunes the CUDA execution provider.
	CUDA CUDAOptions
}

func (o Options) sessionOptions() (*onnx.SessionOptions, error) {
	so, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	intra := o.IntraOpThreads
	if intra <= 0 {
		intra = runtime.NumCPU()
	}
	inter := max(o.InterOpThreads, 1)
	if err := so.SetIntraOpNumThreads(intra); err != nil {
		so.Destroy()
		return nil, err
	}
	if err := so.SetInterOpNumThreads(inter); err != nil {
		so.Destroy()
		return nil, err
	}
	if err := so.SetGraphOptimizationLevel(o.Optimization.ort()); err != nil {
		so.Destroy()
		return nil, err
	}
	return so, nil
}

// Info describes a declared input or output. Dynamic axes are -1.
type Info struct {
	Name  string
	Type  onnx.TensorElementDataType
	Shape []int64
}

func (i Info) String() string {
	return fmt.Sprintf("%s %v %v", i.Name, i.Type, i.Shape)
}

// Session is an open model. Inputs and outputs are bound in the order the
// model declares them; Run is safe for concurrent use, as ONNX Runtime's
// Run is.
type Session struct {
	path     string
	s        *onnx.DynamicAdvancedSession
	inputs   []Info
	outputs  []Info
	provider string
	fallback string
}

// Open loads the model at path on the configured device, initializing the
// runtime first.
func Open(path string, o Options) (*Session, error) {
	device, err := ParseDevice(o.Device)
	if err != nil {
		return nil, err
	}
	if device.CUDA {
		if err := o.CUDA.validate(); err != nil {
			return nil, err
		}
		wantCUDA.Store(true) // decides the library only if this is the first session
	}
	if err := Init(); err != nil {
		return nil, err
	}
	ins, outs, err := declared(path)
	if err != nil {
		return nil, err
	}
	defer trimHeap() // the parsed model file is garbage now
	var fallback string
	if device.CUDA {
		s, err := openSession(path, ins, outs, o, &device)
		if err == nil {
			return s, nil
		}
		if o.RequireDevice {
			return nil, &DeviceError{Device: device.String(), Reason: err.Error()}
		}
		fallback = err.Error()
	}
	s, err := openSession(path, ins, outs, o, nil)
	if err != nil {
		return nil, err
	}
	s.fallback = fallback
	return s, nil
}

// openSession opens path on the CPU, or on cuda when it is set.
func openSession(path string, ins, outs []Info, o Options, cuda *Device) (*Session, error) {
	provider := CPUProvider
	var device EPDevice
	var legacy bool
	rt := *loaded.Load()
	if cuda != nil {
		if !rt.CUDA {
			return nil, errors.New(rt.CUDAUnavailable)
		}
		var err error
		if device, legacy, err = rt.cudaDevice(cuda.ID); err != nil {
			return nil, err
		}
		if err := checkDevice(cuda.ID); err != nil {
			return nil, err
		}
		provider = CUDAProvider
	}
	so, err := o.sessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: session options: %w", err)
	}
	defer so.Destroy()
	switch {
	case cuda == nil:
	case rt.CUDARoute == RouteCUDAOptionsV2:
		err = appendCUDAOptionsV2(so, cuda.ID, o.CUDA)
	case legacy || rt.CUDARoute == RouteLegacy:
		err = appendCUDALegacy(so, cuda.ID, o.CUDA)
	default:
		err = api.appendProvider(so, device, o.CUDA.providerOptions())
	}
	if err != nil {
		return nil, err
	}
	names := func(infos []Info) []string {
		n := make([]string, len(infos))
		for i, info := range infos {
			n[i] = info.Name
		}
		return n
	}
	s, err := onnx.NewDynamicAdvancedSession(path, names(ins), names(outs), so)
	if err != nil {
		return nil, fmt.Errorf("ort: open %s on %s: %w", path, provider, err)
	}
	return &Session{path: path, s: s, inputs: ins, outputs: outs, provider: provider}, nil
}

// declared reads the model's inputs and outputs from the file itself.
// Asking ONNX Runtime (GetInputOutputInfo) would build a second session and
// load every weight a second time: seconds for bge-large. The file is what
// the runtime reads too, and TestDeclaredMatchesRuntime holds them equal.
func declared(path string) (ins, outs []Info, err error) {
	rawIns, rawOuts, err := onnxfile.ReadInterface(path)
	if err != nil {
		return nil, nil, fmt.Errorf("ort: read %s: %w", path, err)
	}
	conv := func(raw []onnxfile.Value) ([]Info, error) {
		infos := make([]Info, len(raw))
		for i, r := range raw {
			if r.Type == onnxfile.TensorProto_UNDEFINED {
				return nil, fmt.Errorf("ort: %s: %s is not a tensor; only tensors are supported", path, r.Name)
			}
			shape := make([]int64, len(r.Dims))
			for j, d := range r.Dims {
				shape[j] = d.Size
				if d.Param != "" || d.Size <= 0 {
					shape[j] = -1
				}
			}
			// ONNX's TensorProto.DataType and ORT's element type enum share values.
			infos[i] = Info{Name: r.Name, Type: onnx.TensorElementDataType(r.Type), Shape: shape}
		}
		return infos, nil
	}
	if ins, err = conv(rawIns); err != nil {
		return nil, nil, err
	}
	if outs, err = conv(rawOuts); err != nil {
		return nil, nil, err
	}
	return ins, outs, nil
}

// ExecutionProvider is the provider the session runs on: CPUProvider or
// CUDAProvider. (ONNX Runtime places any operator the CUDA provider lacks
// on the CPU within a CUDA session.)
func (s *Session) ExecutionProvider() string { return s.provider }

// OnGPU reports whether the session runs on a GPU.
func (s *Session) OnGPU() bool { return s.provider == CUDAProvider }

// Fallback says why a session asked for CUDA runs on the CPU instead;
// empty when it runs where it was asked to.
func (s *Session) Fallback() string { return s.fallback }

// Path is the model file the session was opened from.
func (s *Session) Path() string { return s.path }

// Inputs lists the declared inputs, in binding order.
func (s *Session) Inputs() []Info { return s.inputs }

// Outputs lists the declared outputs, in binding order.
func (s *Session) Outputs() []Info { return s.outputs }

// InputIndex is the binding position of the named input, or -1.
func (s *Session) InputIndex(name string) int {
	return slices.IndexFunc(s.inputs, func(i Info) bool { return i.Name == name })
}

// OutputIndex is the binding position of the named output, or -1.
func (s *Session) OutputIndex(name string) int {
	return slices.IndexFunc(s.outputs, func(i Info) bool { return i.Name == name })
}

// BindInputs orders values by the declared inputs, for Run. Names the model
// does not declare are left out, as real exports differ (token_type_ids may
// be absent); a declared input missing from values is an error.
func (s *Session) BindInputs(values map[string]onnx.Value) ([]onnx.Value, error) {
	bound := make([]onnx.Value, len(s.inputs))
	for i, in := range s.inputs {
		v, ok := values[in.Name]
		if !ok {
			return nil, fmt.Errorf("ort: %s needs input %s", s.path, in.Name)
		}
		bound[i] = v
	}
	return bound, nil
}

// Run evaluates the model. inputs and outputs follow Inputs() and
// Outputs() order; a nil output is allocated by the runtime, stored into
// outputs, and must be destroyed by the caller. Caller-allocated outputs
// are written in place, so reusing tensors across calls costs nothing.
func (s *Session) Run(inputs, outputs []onnx.Value) error {
	if len(inputs) != len(s.inputs) || len(outputs) != len(s.outputs) {
		return fmt.Errorf("ort: %s takes %d inputs and %d outputs, got %d and %d",
			s.path, len(s.inputs), len(s.outputs), len(inputs), len(outputs))
	}
	for i, v := range inputs {
		if v == nil {
			return fmt.Errorf("ort: %s: input %s is not bound", s.path, s.inputs[i].Name)
		}
	}
	if err := s.s.Run(inputs, outputs); err != nil {
		return fmt.Errorf("ort: run %s: %w", s.path, err)
	}
	return nil
}

// RunInto runs the session with out bound as output index; the outputs the
// caller did not bind are allocated by ONNX Runtime and released before it
// returns.
func (s *Session) RunInto(inputs []onnx.Value, index int, out onnx.Value) error {
	outputs := make([]onnx.Value, len(s.outputs))
	outputs[index] = out
	err := s.Run(inputs, outputs)
	for i, v := range outputs {
		if i != index && v != nil {
			v.Destroy()
		}
	}
	return err
}

// Close releases the session.
func (s *Session) Close() error {
	return s.s.Destroy()
}
