package hf

import (
	"encoding/json"
	"errors"
)

// Stubs for the byte-level BPE side of the package (bpe.go, bytelevel.go,
// split.go), which lands separately; merging it deletes this file.

var errPendingBPE = errors.New("not supported yet (byte-level BPE support is pending)")

func newBPE(json.RawMessage) (model, error) { return nil, errPendingBPE }

func newByteLevel(json.RawMessage) (preTokenizer, error) { return nil, errPendingBPE }

func newSplit(json.RawMessage) (preTokenizer, error) { return nil, errPendingBPE }
