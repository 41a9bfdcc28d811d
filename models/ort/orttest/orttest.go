// Package orttest gives tests in other packages the real ONNX Runtime.
package orttest

import (
	"testing"

	"github.com/edgeinfer/edgeinfer/models/ort"
)

// Require initializes ONNX Runtime or fails the test, saying where the
// library was looked for and to run `make setup`. It never skips: a test
// that needs the runtime proves nothing without it.
func Require(tb testing.TB) {
	tb.Helper()
	if err := ort.Init(); err != nil {
		tb.Fatalf("%v", err)
	}
}
