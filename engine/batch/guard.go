package batch

import (
	"fmt"

	"github.com/edgeinfer/edgeinfer/engine"
)

// guard runs f and turns a panic into an internal error: a panicking batch
// function, starter or cohort must not kill a loop goroutine, which would
// hang every later request.
func guard[T any](what string, f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = engine.Internal(fmt.Errorf("%s panicked: %v", what, r))
		}
	}()
	return f()
}
