package batch

import (
	"context"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

func TestTextConfigFollowsTheDeviceAndTheModelConfig(t *testing.T) {
	entry := &engine.Entry{ID: "@cf/baai/bge-small-en-v1.5"}
	for _, tc := range []struct {
		onGPU              bool
		gpuTokens          int
		mc                 engine.ModelConfig
		tokens, size, conc int
	}{
		{false, TextGPUMaxBatchTokens, engine.ModelConfig{}, textMaxBatchTokens, textMaxBatchSize, textMaxConcurrentRequests},
		{true, TextGPUMaxBatchTokens, engine.ModelConfig{}, TextGPUMaxBatchTokens, textGPUMaxBatchSize, textGPUMaxConcurrentRequests},
		{true, 32768, engine.ModelConfig{}, 32768, textGPUMaxBatchSize, textGPUMaxConcurrentRequests},
		{true, TextGPUMaxBatchTokens, engine.ModelConfig{MaxBatchTokens: 4096, MaxBatchSize: 16, MaxConcurrentRequests: 8}, 4096, 16, 8},
	} {
		c := TextConfig(engine.ModelSpec{Entry: entry, Config: tc.mc}, tc.onGPU, tc.gpuTokens)
		if c.MaxBatchTokens != tc.tokens || c.MaxBatchSize != tc.size || c.MaxConcurrentRequests != tc.conc {
			t.Errorf("onGPU=%v config %+v: got %d tokens, %d items, %d requests; want %d, %d, %d",
				tc.onGPU, tc.mc, c.MaxBatchTokens, c.MaxBatchSize, c.MaxConcurrentRequests, tc.tokens, tc.size, tc.conc)
		}
		if want := map[bool]int{false: 0, true: GPUInstances}[tc.onGPU]; c.Instances != want {
			t.Errorf("onGPU=%v: %d instances, want %d", tc.onGPU, c.Instances, want)
		}
		if c.MaxQueueDelay != textMaxQueueDelay || c.MaxPaddingRatio != textMaxPaddingRatio {
			t.Errorf("queue delay %v, padding ratio %v", c.MaxQueueDelay, c.MaxPaddingRatio)
		}
	}
	if TextGPUMaxBatchTokens <= textMaxBatchTokens || textGPUMaxBatchSize <= textMaxBatchSize {
		t.Error("GPU budgets must be larger than the CPU ones")
	}
}

func TestPrepareGivesUpWhenTheRequestEnds(t *testing.T) {
	// Hold every worker, so the next Prepare has to wait.
	for range cap(prepWorkers) {
		prepWorkers <- struct{}{}
	}
	defer func() {
		for range cap(prepWorkers) {
			<-prepWorkers
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := Prepare(ctx, func() { ran = true }); err != context.Canceled || ran {
		t.Fatalf("Prepare with every worker busy and the request gone: %v, ran %v", err, ran)
	}
}
