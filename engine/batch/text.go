package batch

import (
	"context"
	"runtime"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// Scheduler defaults of the text encoders (BERT, XLM-R, DistilBERT,
// Qwen3-Embedding, EmbeddingGemma): a token budget per batch on the CPU,
// and far larger batches on a GPU, which needs them to keep busy; admission
// grows with them so a full batch can queue behind the running one.
const (
	textMaxBatchTokens        = 8192
	textMaxConcurrentRequests = 512
	// textMaxQueueDelay lets a batch wait briefly for company. Without it,
	// callers whose results were just delivered have not come back yet when
	// the next batch is packed, so batches alternate between a handful of
	// texts and the rest and throughput stays near batch-1 rates (measured on
	// full bge-base with 64 callers: 65 requests in 8 s with no delay, 128
	// with 5 ms, on a loaded 2-core machine). 5 ms is a tenth of one
	// single-text inference here.
	textMaxQueueDelay = 5 * time.Millisecond
	// textMaxPaddingRatio keeps batches to texts of similar length: ONNX
	// Runtime pays for padded positions like real ones, and on 2 CPU cores
	// batches of 4 or more already run at full speed, so a ragged batch of
	// 64 (a third padding) was slower than well-grouped batches of 8.
	textMaxPaddingRatio = 0.15

	textGPUMaxBatchSize          = 256
	textGPUMaxConcurrentRequests = 2048
	// TextGPUMaxBatchTokens is the GPU token budget of an encoder with
	// fused attention; a model whose attention scores are materialized per
	// layer (Qwen3-Embedding's export) passes a smaller one.
	TextGPUMaxBatchTokens = 65536
)

// textMaxBatchSize grows with the cores: a batch needs rows for every ONNX
// Runtime thread, but past that a bigger batch is slower per text on a CPU
// (its activations leave the caches). On 2 cores, whole passes over a
// length-sorted sample of the benchmark corpus ran full bge-base at 22.8
// texts/s at batch 1, 32.4 at 4, 30.6 at 16 and 26.3 at 64, and 64 callers
// through the engine got 33.6 texts/s with batches of up to 8 against 22.1
// with up to 64 (benchmarks/embeddings). 4 per core, between 8 and 64.
var textMaxBatchSize = min(max(4*runtime.NumCPU(), 8), 64)

// TextConfig is the scheduler configuration of a text encoder on the
// device its session runs on, with the model's config applied over the
// defaults; gpuMaxBatchTokens is its token budget on a GPU.
func TextConfig(spec engine.ModelSpec, onGPU bool, gpuMaxBatchTokens int) Config {
	cfg := Config{
		Limits:                Limits{MaxBatchTokens: textMaxBatchTokens, MaxBatchSize: textMaxBatchSize, MaxPaddingRatio: textMaxPaddingRatio},
		MaxQueueDelay:         textMaxQueueDelay,
		MaxConcurrentRequests: textMaxConcurrentRequests,
	}
	if onGPU {
		cfg.Limits = Limits{MaxBatchTokens: gpuMaxBatchTokens, MaxBatchSize: textGPUMaxBatchSize, MaxPaddingRatio: textMaxPaddingRatio}
		cfg.MaxConcurrentRequests = textGPUMaxConcurrentRequests
		cfg.Instances = GPUInstances
	}
	return cfg.ForModel(spec)
}

// prepWorkers bounds the CPU work requests do before they queue
// (tokenizing, decoding and resizing images, decoding audio and computing
// its features), across every model, to the cores, so a burst of requests
// does not starve the sessions' threads. Sized to the cores rather than
// fewer: on full ResNet-50 preprocessing is ~14 ms of CPU per photo against
// ~72 ms of inference (benchmarks/resnet), so it cannot take more than its
// share, and a smaller bound only delays batches.
var prepWorkers = make(chan struct{}, runtime.NumCPU())

// Prepare runs f under the shared bound on request-side CPU work, or
// returns ctx's error without running it if the request ends while it
// waits.
func Prepare(ctx context.Context, f func()) error {
	select {
	case prepWorkers <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-prepWorkers }()
	f()
	return nil
}
