package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/ort"
)

// TestMain loads ONNX Runtime from the installed home before any test runs
// a command in-process with a temporary --home: the runtime loads once per
// process, and those homes have no lib/.
func TestMain(m *testing.M) {
	if err := ort.Init(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
