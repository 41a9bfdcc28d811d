package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/pull/pulltest"
	"github.com/edgeinfer/edgeinfer/models/synth"
	"github.com/edgeinfer/edgeinfer/models/vad"
	"github.com/edgeinfer/edgeinfer/models/whisper"
)

// execute runs the CLI with args and returns stdout, stderr and the error.
func execute(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

func TestPullCommandInstallsRealModel(t *testing.T) {
	const model = "@cf/baai/bge-small-en-v1.5"
	src := t.TempDir()
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: src}, []string{model}, os.Stderr); err != nil {
		t.Fatal(err)
	}
	files := pulltest.FromDir(t, filepath.Join(src, model), func(p string) bool { return strings.HasPrefix(p, "onnx/") })
	pulltest.Unmark(t, files)
	hub := pulltest.New(t, "Xenova/bge-small-en-v1.5", files)

	t.Setenv("EDGEINFER_ORT_LIB", ort.LibraryPath()) // the runtime stays where setup put it
	home := t.TempDir()
	t.Setenv("EDGEINFER_HOME", home)
	t.Setenv("HF_ENDPOINT", hub.URL)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", filepath.Join(home, "no-token"))

	stdout, stderr, err := execute(t, "pull", model, "--variant", "int8")
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, model+": int8 weights from Xenova/bge-small-en-v1.5@"+pulltest.Commit[:12]) ||
		!strings.Contains(stdout, "set models.\""+model+"\".variant: int8") {
		t.Fatalf("pull printed:\n%s", stdout)
	}
	// Not a terminal: plain lines, one per file at least.
	if !strings.Contains(stderr, "onnx/model_quantized.onnx: done") || strings.Contains(stderr, "\x1b[") {
		t.Fatalf("progress on a non-terminal:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(home, "models", model, "onnx", "model_quantized.onnx")); err != nil {
		t.Fatal(err)
	}

	if _, stderr, err := execute(t, "pull", model); err != nil {
		t.Fatalf("pull fp32: %v\n%s", err, stderr)
	}
	stdout, _, err = execute(t, "models", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, model+" ") {
			// MODEL TASK INSTALLED SIZE ("12.3 MB") WEIGHTS SOURCE
			if fields := strings.Fields(line); len(fields) < 6 || fields[2] != "yes" || fields[4] != "MB" || fields[5] != "real" {
				t.Fatalf("models list after a pull: %q", line)
			}
			return
		}
	}
	t.Fatalf("models list does not show %s:\n%s", model, stdout)
}

func TestPullCommandPointsLLMsToOllama(t *testing.T) {
	t.Setenv("EDGEINFER_HOME", t.TempDir())
	_, _, err := execute(t, "pull", "@cf/meta/llama-2-7b-chat-int8")
	if err == nil || !strings.Contains(err.Error(), "ollama pull llama2:7b-chat-q8_0") {
		t.Fatalf("LLM pull: %v", err)
	}
}

func TestPullCommandRefusesUnknownModelsAndVariants(t *testing.T) {
	t.Setenv("EDGEINFER_HOME", t.TempDir())
	if _, _, err := execute(t, "pull", "@cf/nobody/nothing"); err == nil || !strings.Contains(err.Error(), "No such model") {
		t.Fatalf("unknown model: %v", err)
	}
	if _, _, err := execute(t, "pull", "@cf/baai/bge-small-en-v1.5", "--variant", "int4"); err == nil || !strings.Contains(err.Error(), "int4") {
		t.Fatalf("unknown variant: %v", err)
	}
	if _, _, err := execute(t, "pull", "@cf/meta/m2m100-1.2b", "--variant", "fp16"); err == nil || !strings.Contains(err.Error(), `no "fp16" variant`) {
		t.Fatalf("variant the catalog lacks: %v", err)
	}
}

// Pulling a Whisper model fetches the files the catalog lists (the same
// ones `models synth` writes, so a hub serving a synthetic directory has
// them all) and Silero VAD from its own repository, replacing a synthetic
// VAD; the VAD can be pulled alone by its directory name.
func TestPullWhisperBringsSileroVAD(t *testing.T) {
	const model = synth.WhisperTinyEnID
	src := t.TempDir()
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: src}, []string{model, synth.SileroModelID}, os.Stderr); err != nil {
		t.Fatal(err)
	}
	files := pulltest.FromDir(t, filepath.Join(src, model), func(p string) bool { return strings.HasPrefix(p, "onnx/") })
	pulltest.Unmark(t, files)
	delete(files, ".edgeinfer-synth.json")
	hub := pulltest.New(t, "onnx-community/whisper-tiny.en_timestamped", files)
	graph, err := os.ReadFile(filepath.Join(src, synth.SileroModelID, synth.SileroModelFile))
	if err != nil {
		t.Fatal(err)
	}
	hub.AddRepo(vad.HubRepo, map[string]pulltest.File{vad.HubFile: {Data: graph, LFS: true}})

	t.Setenv("EDGEINFER_ORT_LIB", ort.LibraryPath())
	home := t.TempDir()
	t.Setenv("EDGEINFER_HOME", home)
	t.Setenv("HF_ENDPOINT", hub.URL)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", filepath.Join(home, "no-token"))
	models := filepath.Join(home, "models")
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: models}, []string{synth.SileroModelID}, os.Stderr); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, err := execute(t, "pull", model)
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, stderr)
	}
	vadDir := filepath.Join(models, whisper.VADModelID)
	for _, want := range []string{
		model + ": int8 weights from onnx-community/whisper-tiny.en_timestamped@",
		whisper.VADModelID + ": fp32 weights from " + vad.HubRepo + "@" + pulltest.Commit[:12] + ", 1 files (1 downloaded, 0 already there)",
		whisper.VADModelID + ": the synthetic artifacts that were there are gone",
	} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("pull printed:\n%s\nwant a line with %q", stdout, want)
		}
	}
	if path, ok := vad.ModelPath(vadDir); !ok || path != filepath.Join(vadDir, "onnx", "model.onnx") {
		t.Fatalf("the VAD the backend loads: %q %v", path, ok)
	}
	for _, gone := range []string{synth.SileroModelFile, "config.json"} {
		if _, err := os.Stat(filepath.Join(vadDir, gone)); !os.IsNotExist(err) {
			t.Errorf("synthetic %s left beside the pulled VAD (%v)", gone, err)
		}
	}
	m, err := vad.Load(vadDir, ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()

	stdout, stderr, err = execute(t, "pull", whisper.VADModelID)
	if err != nil || !strings.Contains(stdout, "(0 downloaded, 1 already there)") {
		t.Fatalf("pull %s again: %v\n%s%s", whisper.VADModelID, err, stdout, stderr)
	}
}
