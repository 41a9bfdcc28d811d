// Command edgeinfer serves Workers AI models locally: the REST API, the
// binding protocol, the OpenAI routes and a CLI over one engine.
package main

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/edgeinfer/edgeinfer/models/cudacheck"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

func main() {
	if id, ok := ort.SelfTestDevice(os.Getenv); ok {
		// A child started by guardCUDA: test the device and report.
		if err := cudacheck.Run(id); err != nil {
			fmt.Fprintln(os.Stderr, "edgeinfer: CUDA self-test:", err)
			os.Exit(1)
		}
		return
	}
	guardCUDA()
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "edgeinfer:", err)
		os.Exit(1)
	}
}

// guardCUDA makes ONNX Runtime check each CUDA device in a child process of
// this program before the first session uses it (see ort.SetSelfTest); the
// child runs cudacheck.Run.
func guardCUDA() {
	ort.SetSelfTest(func() *exec.Cmd {
		exe, err := os.Executable()
		if err != nil {
			return nil
		}
		return exec.Command(exe)
	})
}
