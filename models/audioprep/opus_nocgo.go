//go:build !cgo

package audioprep

import "errors"

var errNoLibopus = errors.New("Opus needs libopus, which this build (without cgo) cannot load; build with CGO_ENABLED=1 and install libopus0")

// OpusAvailable reports whether Opus can be decoded here, and if not, why.
func OpusAvailable() error { return errNoLibopus }

func newOpusDecoder(*opusHead) (opusDecoder, error) { return nil, errNoLibopus }
