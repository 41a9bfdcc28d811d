package m2m100

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// The items of an async batch job reach the model at low priority through
// the request context. With max_batch_size 1 there is one decoding place,
// which the interactive reserve must not take: the items still run, one at
// a time, and translate as interactive requests do.
func TestBatchJobItemsRunWithOneDecodingPlace(t *testing.T) {
	m := load(t, tinyDir, "", engine.ModelConfig{MaxLength: 24, MaxBatchSize: 1}, false)
	ctx, cancel := context.WithTimeout(testContext(t), 10*time.Second)
	defer cancel()
	low := engine.WithOptions(ctx, engine.RunOptions{LowPriority: true})
	for _, r := range requests[:2] {
		want := translate(t, ctx, m, r)
		if got := translate(t, low, m, r); !slices.Equal(got.Tokens, want.Tokens) {
			t.Errorf("%q at low priority: %v, interactively %v", r.text, got.Tokens, want.Tokens)
		}
	}
}
