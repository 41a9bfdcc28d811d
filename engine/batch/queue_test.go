package batch

// queueState is a snapshot of a queue for tests that wait on it.
type queueState struct {
	queued, admitted, running int
	closed                    bool
}

func (q *queue[T]) state() queueState {
	q.mu.Lock()
	defer q.mu.Unlock()
	return queueState{queued: len(q.entries), admitted: q.admitted, running: q.running, closed: q.closed}
}
