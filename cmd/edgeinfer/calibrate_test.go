package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/edgeinfer/edgeinfer/models/cpuinfo"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// tinyHome is a home holding the tiny synthetic models given, with the
// installed ONNX Runtime.
func tinyHome(t *testing.T, ids ...string) string {
	t.Helper()
	h := t.TempDir()
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: filepath.Join(h, "models")}, ids, io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDGEINFER_ORT_LIB", ort.LibraryPath())
	t.Setenv("EDGEINFER_HOME", h)
	return h
}

func TestCalibrateCommandMeasuresAgainAndPrintsTheTable(t *testing.T) {
	const model = "@cf/baai/bge-small-en-v1.5"
	h := tinyHome(t, model)
	// calibrate: false in the config does not stop an explicit request.
	cfgPath := filepath.Join(h, "edgeinfer.yaml")
	if err := os.WriteFile(cfgPath, []byte("calibrate: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var first calibrate.Result
	for round := range 2 {
		stdout, stderr, err := execute(t, "--config", cfgPath, "--home", h, "calibrate", model)
		if err != nil {
			t.Fatalf("calibrate: %v\n%s", err, stderr)
		}
		r, err := calibrate.Read(calibrate.Path(h, model, "cpu"))
		if err != nil {
			t.Fatal(err)
		}
		if round == 1 && r.At.Equal(first.At) {
			t.Fatal("the second run used the cache instead of measuring again")
		}
		first = r
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if !strings.HasPrefix(lines[0], model+" on cpu (") || !strings.Contains(lines[0], cpuinfo.Flags()) {
			t.Fatalf("header %q", lines[0])
		}
		marked := 0
		for _, l := range lines[1 : len(lines)-1] {
			if !strings.HasSuffix(l, "items/s") {
				t.Errorf("table line %q", l)
			}
			if strings.HasPrefix(strings.TrimSpace(l), "*") {
				marked++
			}
		}
		if len(lines)-2 != len(r.Table) || marked != 2 || !strings.Contains(lines[len(lines)-1], "chosen: "+r.Choice.String()) {
			t.Fatalf("output does not show the cached table %+v:\n%s", r, stdout)
		}
	}
}

func TestCalibrateCommandRefusesAnOllamaModel(t *testing.T) {
	h := tinyHome(t)
	stdout, _, err := execute(t, "--home", h, "calibrate", "@cf/meta/llama-2-7b-chat-int8")
	if err == nil || !strings.Contains(stdout, "calibration measures ONNX Runtime models") {
		t.Fatalf("err %v, stdout %q", err, stdout)
	}
}

func TestDoctorShowsMachineRuntimeAndBatchSizes(t *testing.T) {
	const measured, unmeasured = "@cf/baai/bge-small-en-v1.5", "@cf/microsoft/resnet-50"
	h := tinyHome(t, measured, unmeasured)
	if _, stderr, err := execute(t, "--home", h, "calibrate", measured); err != nil {
		t.Fatalf("calibrate: %v\n%s", err, stderr)
	}
	stdout, stderr, err := execute(t, "--home", h, "doctor")
	if err != nil {
		t.Fatalf("doctor: %v\n%s", err, stderr)
	}
	r, err := calibrate.Read(calibrate.Path(h, measured, "cpu"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"CPU:          " + cpuinfo.Model(),
		cpuinfo.Flags(),
		"ONNX Runtime: " + ort.Version(),
		"JPEG decoder: ",
		"libopus:      ",
		"Ollama:       ",
		"  " + measured + " on cpu: " + r.Choice.String(),
		"  " + unmeasured + " on cpu: not calibrated yet",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, stdout)
		}
	}
}
