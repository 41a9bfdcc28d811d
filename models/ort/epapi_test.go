package ort

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// ortAPIMembers lists the function-pointer members of struct OrtApi in
// order, read from the C header.
func ortAPIMembers(t *testing.T, header string) []string {
	t.Helper()
	raw, err := os.ReadFile(header)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	start := strings.Index(s, "\nstruct OrtApi {")
	if start < 0 {
		t.Fatalf("%s declares no struct OrtApi", header)
	}
	s = s[start:]
	s = s[:strings.Index(s, "\n};")]
	s = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(s, "")
	s = regexp.MustCompile(`//[^\n]*`).ReplaceAllString(s, "")
	member := regexp.MustCompile(`ORT_API2_STATUS\(\s*(\w+)|ORT_CLASS_RELEASE\(\s*(\w+)\s*\)|ORT_API_T\([^,]*,\s*(\w+)|\(\s*ORT_API_CALL\s*\*\s*(\w+)\s*\)`)
	var names []string
	for _, m := range member.FindAllStringSubmatch(s, -1) {
		switch {
		case m[2] != "":
			names = append(names, "Release"+m[2])
		default:
			names = append(names, m[1]+m[3]+m[4])
		}
	}
	return names
}

// TestOrtAPISlots holds the slot numbers the C shim uses equal to the
// member order of the header that onnxruntime_go compiles against.
func TestOrtAPISlots(t *testing.T) {
	members := ortAPIMembers(t, filepath.Join(onnxruntimeGoDir(t), "onnxruntime_c_api.h"))
	if len(members) < 300 || members[0] != "CreateStatus" || members[3] != "CreateEnv" {
		t.Fatalf("header parse looks wrong: %d members, starting %v", len(members), members[:min(4, len(members))])
	}
	for name, slot := range ortAPISlots {
		if slot >= len(members) || members[slot] != name {
			t.Errorf("slot %d is %q in the header, want %s at slot %d", slot, members[min(slot, len(members)-1)], name, slices.Index(members, name))
		}
	}
}

// TestCUDAOptionsLayout holds the shim's copy of OrtCUDAProviderOptions to
// the header's field order.
func TestCUDAOptionsLayout(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(onnxruntimeGoDir(t), "onnxruntime_c_api.h"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	start := strings.Index(s, "typedef struct OrtCUDAProviderOptions {")
	end := strings.Index(s[start:], "} OrtCUDAProviderOptions;")
	if start < 0 || end < 0 {
		t.Fatal("the header declares no OrtCUDAProviderOptions")
	}
	body := s[start : start+end]
	body = body[strings.Index(body, "#endif"):] // skip the C++ constructor
	body = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(body, "")
	var fields []string
	for _, m := range regexp.MustCompile(`(?m)^\s*[\w\*]+[\s\*]+(\w+);`).FindAllStringSubmatch(body, -1) {
		fields = append(fields, m[1])
	}
	if !slices.Equal(fields, cudaOptionsFields) {
		t.Errorf("OrtCUDAProviderOptions fields are %v, the shim has %v", fields, cudaOptionsFields)
	}
}

func onnxruntimeGoDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/yalue/onnxruntime_go").Output()
	if err != nil {
		t.Fatalf("locate onnxruntime_go: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func requireRuntime(t *testing.T) Runtime {
	t.Helper()
	rt, err := RuntimeInfo()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return rt
}

func TestSessionOptionsLayout(t *testing.T) {
	requireRuntime(t)
	so, err := onnx.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer so.Destroy()
	if h, err := sessionOptionsHandle(so); err != nil || h == nil {
		t.Fatalf("sessionOptionsHandle = %v, %v", h, err)
	}
}

// TestEPDeviceAPI drives the C shim against the real runtime: status
// functions, the device list (which always has the CPU), and adding a
// provider by device, with which a session opens and runs.
func TestEPDeviceAPI(t *testing.T) {
	rt := requireRuntime(t)
	a, err := newEPAPI(rt.Library)
	if err != nil {
		t.Fatal(err)
	}
	if got := statusRoundTrip("probe message"); got != "probe message" {
		t.Errorf("status round trip = %q", got)
	}
	devices, err := a.devices()
	if err != nil {
		t.Fatal(err)
	}
	cpu := slices.IndexFunc(devices, func(d EPDevice) bool { return d.Provider == CPUProvider && d.Hardware == "cpu" })
	if cpu < 0 {
		t.Fatalf("devices %v lack the CPU provider on a cpu device", devices)
	}

	g := onnxgraph.NewGraph("double")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Dynamic("n"))
	g.Node("Mul", []string{x, g.Scalar(2)}, []string{"y"})
	g.Output("y", onnxgraph.Float, onnxgraph.Dynamic("n"))
	path := filepath.Join(t.TempDir(), "double.onnx")
	if err := onnxgraph.NewModel(g).Save(path); err != nil {
		t.Fatal(err)
	}
	so, err := Options{IntraOpThreads: 1}.sessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer so.Destroy()
	if err := a.appendProvider(so, devices[cpu], nil); err != nil {
		t.Fatal(err)
	}
	s, err := onnx.NewDynamicAdvancedSession(path, []string{"x"}, []string{"y"}, so)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	in, _ := onnx.NewTensor(onnx.NewShape(2), []float32{1.5, -2})
	defer in.Destroy()
	out, _ := onnx.NewEmptyTensor[float32](onnx.NewShape(2))
	defer out.Destroy()
	if err := s.Run([]onnx.Value{in}, []onnx.Value{out}); err != nil {
		t.Fatal(err)
	}
	if got := out.GetData(); !slices.Equal(got, []float32{3, -4}) {
		t.Errorf("y = %v, want [3 -4]", got)
	}
}
