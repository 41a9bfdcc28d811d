// Package batch queues the work of concurrent requests for a model and
// runs it in batches under a token budget.
//
// Three front ends share one queue (admission with MaxConcurrentRequests
// and rejectIfBusy answered by engine.Busy, interactive items before the
// low-priority items of async batch jobs, dropping items whose request
// ended before they run, and the queue metrics) and one pure batching
// policy, Decide:
//
//   - Scheduler runs single-pass batches (embeddings, image
//     classification) through a RunFunc. It has one loop goroutine per
//     instance, so with Config.Instances > 1 several batches run at once
//     and the RunFunc is called concurrently.
//   - Stepper runs multi-step generation: it starts cohorts from the queue
//     and steps them in turn, all on one loop goroutine, so a Cohort needs
//     no locking. Any encoder-decoder or decoder-only family plugs in by
//     implementing Cohort and a Starter.
//   - Slots runs no batches: it gates a runtime that batches by itself
//     (Ollama) to a fixed number of requests at once, keeping the wait,
//     the priority and the refusals here.
package batch
