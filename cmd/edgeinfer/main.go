// Command edgeinfer serves Workers AI models locally: the REST API, the
// binding protocol, the OpenAI routes and a CLI over one engine.
package main

import (
	"fmt"
	"os"

	"github.com/edgeinfer/edgeinfer/models/ort"
)

func main() {
	if id, ok := ort.SelfTestDevice(os.Getenv); ok {
		// A child started by guardCUDA: test the device and report.
		if err := cudaSelfTest(id); err != nil {
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
