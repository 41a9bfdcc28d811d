package batch

import (
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// Config configures a Scheduler, and through StepperConfig a Stepper.
type Config struct {
	Limits
	// MaxQueueDelay is how long the first queued item may wait for company
	// before a batch runs anyway; 0 runs as soon as the runner is free
	// (batches still form from whatever queued during the previous run).
	MaxQueueDelay time.Duration
	// MaxConcurrentRequests bounds the interactive requests admitted at
	// once; beyond it Submit answers 429 at once. 0 means no bound.
	// Low-priority requests (engine.RunOptions.LowPriority, the items of
	// async batch jobs) neither count nor are refused: their producer bounds
	// them, and they must not crowd out interactive callers.
	MaxConcurrentRequests int
	// Instances is how many batches a Scheduler may run at once, each on
	// its own goroutine taking batches from the one queue (Triton's
	// instance count). More than one suits runtimes that run a batch on a
	// single core: one instance per core keeps every core busy while
	// requests are still being prepared. 0 means 1. A Stepper ignores it.
	Instances int
	// Model labels the metrics; Metrics may be nil.
	Model   string
	Metrics *engine.Metrics
}

func (c Config) instances() int { return max(c.Instances, 1) }

// GPUInstances is the instance count for a session on a GPU: with two
// batches in flight the host pads the next batch and unpacks the last
// while the device runs one, instead of the device waiting on the host.
const GPUInstances = 2

// ErrClosed is returned for work still queued when the scheduler closes.
var ErrClosed = &engine.Error{Kind: engine.KindNotInstalled, Message: "Model was unloaded while the request waited"}

// ForModel returns c with a model's configured limits applied over it (a
// zero setting keeps c's default) and the model's name and metrics, so every
// backend reads max_batch_tokens, max_batch_size, max_queue_delay and
// max_concurrent_requests the same way.
func (c Config) ForModel(spec engine.ModelSpec) Config {
	m := spec.Config
	if m.MaxBatchTokens > 0 {
		c.MaxBatchTokens = m.MaxBatchTokens
	}
	if m.MaxBatchSize > 0 {
		c.MaxBatchSize = m.MaxBatchSize
	}
	if m.MaxQueueDelay > 0 {
		c.MaxQueueDelay = time.Duration(m.MaxQueueDelay)
	}
	if m.MaxConcurrentRequests > 0 {
		c.MaxConcurrentRequests = m.MaxConcurrentRequests
	}
	c.Model, c.Metrics = spec.Entry.ID, spec.Metrics
	return c
}
