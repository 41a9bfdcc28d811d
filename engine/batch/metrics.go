package batch

import "time"

// The queue's metrics, labelled with the model; all do nothing without
// Config.Metrics.

func (q *queue[T]) setDepth() {
	if m := q.cfg.Metrics; m != nil {
		m.QueueDepth.WithLabelValues(q.cfg.Model).Set(float64(len(q.entries)))
	}
}

func (q *queue[T]) observeQueued(d time.Duration) {
	if m := q.cfg.Metrics; m != nil {
		m.QueueSeconds.WithLabelValues(q.cfg.Model).Observe(d.Seconds())
	}
}

func (q *queue[T]) observeBatch(lengths []int, picked []int) {
	if m := q.cfg.Metrics; m != nil {
		tokens, padding := Cost(lengths, picked)
		m.BatchSize.WithLabelValues(q.cfg.Model).Observe(float64(len(picked)))
		m.BatchTokens.WithLabelValues(q.cfg.Model).Observe(float64(tokens))
		m.PaddingRatio.WithLabelValues(q.cfg.Model).Observe(padding)
	}
}

// observeRun records the time a batch function, starter or step took.
func (q *queue[T]) observeRun(began time.Time) {
	if m := q.cfg.Metrics; m != nil {
		m.InferSeconds.WithLabelValues(q.cfg.Model).Observe(time.Since(began).Seconds())
	}
}
