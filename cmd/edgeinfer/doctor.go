package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/imageprep"
	"github.com/edgeinfer/edgeinfer/models/audioprep"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/edgeinfer/edgeinfer/models/cpuinfo"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/spf13/cobra"
)

func newDoctorCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Show what this machine gives edgeinfer: CPU, runtimes, decoders, GPUs and each model's batch sizes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			eng, err := g.newEngine(cfg)
			if err != nil {
				return err
			}
			defer eng.Close()
			out := cmd.OutOrStdout()
			paths := cfg.Paths()
			fmt.Fprintf(out, "CPU:          %s, %d cores, %s\n", cpuinfo.Model(), cpuinfo.Cores(), cpuinfo.Flags())
			writeRuntime(out)
			fmt.Fprintf(out, "Ollama:       %s\n", ollamaVersion(paths))
			fmt.Fprintf(out, "JPEG decoder: %s\n", imageprep.JPEGDecoder())
			fmt.Fprintf(out, "libopus:      %s\n", presence(audioprep.OpusAvailable()))
			fmt.Fprintln(out, "Models (batch sizes measured on this machine):")
			for _, entry := range eng.Catalog().Entries() {
				if !isONNX(entry) || !eng.Status(cmd.Context(), entry).Installed {
					continue
				}
				spec := eng.Spec(entry)
				fmt.Fprintf(out, "  %s on %s: %s\n", entry.ID, calibrate.Device(spec), modelCalibration(spec))
			}
			return nil
		},
	}
}

// writeRuntime prints ONNX Runtime's version and library, and the CUDA
// devices it can use.
func writeRuntime(out io.Writer) {
	rt, err := ort.RuntimeInfo()
	if err != nil {
		fmt.Fprintf(out, "ONNX Runtime: not loaded: %v (run `make setup`)\n", err)
		return
	}
	fmt.Fprintf(out, "ONNX Runtime: %s (%s)\n", rt.Version, rt.Library)
	switch {
	case rt.CUDA:
		fmt.Fprintf(out, "CUDA:         %d device(s) (%s)\n", rt.GPUs, rt.CUDARoute)
	case rt.CUDAUnavailable != "":
		fmt.Fprintf(out, "CUDA:         none usable: %s\n", rt.CUDAUnavailable)
	default:
		fmt.Fprintln(out, "CUDA:         none (the CPU build is loaded)")
	}
}

// modelCalibration is what doctor says of one model's batch sizes.
func modelCalibration(spec engine.ModelSpec) string {
	if !calibrate.Enabled(spec) {
		return "calibrate: false (the backend's defaults and the config)"
	}
	return calibrate.Summary(spec.Paths.Home, spec.Entry.ID, calibrate.Device(spec))
}

// ollamaVersion is the version `make setup` recorded beside the managed
// Ollama binary.
func ollamaVersion(paths home.Paths) string {
	if _, err := os.Stat(paths.OllamaBin); err != nil {
		return "not installed (run `make setup`, or set server.ollama_host to a running server)"
	}
	raw, err := os.ReadFile(paths.OllamaBin + ".version")
	if err != nil {
		return "installed, version unknown (" + paths.OllamaBin + ")"
	}
	return strings.TrimSpace(string(raw)) + " (" + paths.OllamaBin + ")"
}

func presence(err error) string {
	if err != nil {
		return "missing: " + err.Error()
	}
	return "present"
}
