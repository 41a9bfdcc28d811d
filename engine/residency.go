package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Residency: models load lazily on first use (concurrent first requests
// share one load), stay resident for a keep-alive after their last use,
// and are unloaded when idle. A budget (max_loaded_models, max_resident_bytes)
// evicts the least recently used idle model; a model in use is never evicted.

// DefaultKeepAlive is how long an idle model stays loaded.
const DefaultKeepAlive = 5 * time.Minute

// errEngineClosed answers requests that reach the engine after Close.
var errEngineClosed = &Error{Kind: KindNotInstalled, Message: "The server is shutting down"}

// reapInterval is how often idle models are checked.
const reapInterval = time.Second

// resident is one model's load state; ready is closed when the load ends.
// Fields other than ready are guarded by Engine.mu.
type resident struct {
	ready     chan struct{}
	model     Model
	err       error
	failedAt  time.Time
	inst      Installation
	placement Placement
	loadedAt  time.Time
	lastUsed  time.Time
	inUse     int
	keepAlive time.Duration
}

func (r *resident) loaded() bool {
	select {
	case <-r.ready:
		return r.err == nil
	default:
		return false
	}
}

// keepAliveOf is the model's configured keep-alive.
func (e *Engine) keepAliveOf(id string) time.Duration {
	if ka := e.cfg.Models[id].KeepAlive; ka != nil {
		return time.Duration(*ka)
	}
	if ka := e.cfg.Server.KeepAlive; ka != nil {
		return time.Duration(*ka)
	}
	return DefaultKeepAlive
}

// acquire returns the loaded model, loading it if needed, and marks it in
// use until release is called.
func (e *Engine) acquire(ctx context.Context, entry *Entry) (Model, func(), error) {
	var r *resident
	for {
		r = e.ensureLoading(entry)
		select {
		case <-r.ready:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if r.err != nil {
			return nil, nil, r.err
		}
		e.mu.Lock()
		if e.resident[entry.ID] == r { // not unloaded between the load and now
			r.inUse++
			e.mu.Unlock()
			break
		}
		e.mu.Unlock()
	}
	release := func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		r.inUse--
		r.lastUsed = time.Now()
		if ka, ok := OptionsFrom(ctx).KeepAlive(); ok {
			r.keepAlive = ka
		}
	}
	return r.model, release, nil
}

// ensureLoading returns the model's resident entry, starting a load when
// there is none or when a failed load's cooldown has passed.
func (e *Engine) ensureLoading(entry *Entry) *resident {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		r := &resident{ready: make(chan struct{}), err: errEngineClosed}
		close(r.ready)
		return r
	}
	r, ok := e.resident[entry.ID]
	if ok && r.err != nil && time.Since(r.failedAt) > loadRetryCooldown {
		ok = false
	}
	if !ok {
		r = &resident{ready: make(chan struct{}), keepAlive: e.keepAliveOf(entry.ID)}
		e.resident[entry.ID] = r
		go e.load(entry, r)
	}
	return r
}

// load runs detached from any one request, so a caller that gives up does
// not abort a load that others are waiting for.
func (e *Engine) load(entry *Entry, r *resident) {
	start := time.Now()
	var inst Installation
	var model Model
	b, err := e.backendFor(entry)
	if err == nil {
		spec := e.Spec(entry)
		if inst, err = b.Check(context.Background(), spec); err == nil {
			e.makeRoom(entry.ID, inst.Bytes)
			model, err = b.Load(context.Background(), spec)
		}
	}
	var placement Placement
	if p, ok := model.(Placed); ok {
		placement = p.Placement()
	}
	e.mu.Lock()
	r.model, r.inst, r.placement, r.loadedAt, r.lastUsed = model, inst, placement, time.Now(), time.Now()
	if err != nil {
		r.err, r.failedAt = normalizeError(err), time.Now()
	}
	e.mu.Unlock()
	close(r.ready)
	if err != nil {
		e.metrics.ModelLoads.WithLabelValues(entry.ID, "error").Inc()
		e.log.Warn("model load failed", "model", entry.ID, "err", err)
		return
	}
	e.metrics.ModelLoads.WithLabelValues(entry.ID, "ok").Inc()
	e.metrics.ModelLoadSecond.WithLabelValues(entry.ID).Observe(time.Since(start).Seconds())
	e.metrics.ResidentBytes.WithLabelValues(entry.ID).Set(float64(inst.Bytes))
	weights := "real"
	if inst.Synthetic {
		weights = "synthetic weights (outputs are meaningless)"
	}
	attrs := []any{"model", entry.ID, "backend", entry.Backend, "weights", weights, "took", time.Since(start).Round(time.Millisecond)}
	if placement.ExecutionProvider != "" {
		attrs = append(attrs, "device", e.deviceOf(entry.ID), "execution_provider", placement.ExecutionProvider)
	}
	if placement.Fallback != "" {
		e.log.Warn("model runs on the CPU instead of its configured device (set require_device: true to fail instead)",
			"model", entry.ID, "device", e.deviceOf(entry.ID), "reason", placement.Fallback)
	}
	e.log.Info("model loaded", attrs...)
}

// makeRoom evicts least recently used idle models until loading one more of
// size bytes fits the budget. A budget that cannot be met because every
// loaded model is busy is logged, and the load goes ahead.
func (e *Engine) makeRoom(loading string, bytes int64) {
	maxModels, maxBytes := e.cfg.Server.MaxLoadedModels, e.cfg.Server.MaxResidentBytes
	if maxModels <= 0 && maxBytes <= 0 {
		return
	}
	for {
		e.mu.Lock()
		var idle []string
		count, total := 0, bytes
		for id, r := range e.resident {
			if id == loading || !r.loaded() {
				continue
			}
			count++
			total += r.inst.Bytes
			if r.inUse == 0 {
				idle = append(idle, id)
			}
		}
		over := (maxModels > 0 && count+1 > maxModels) || (maxBytes > 0 && total > maxBytes)
		if !over {
			e.mu.Unlock()
			return
		}
		if len(idle) == 0 {
			e.mu.Unlock()
			e.log.Warn("memory budget exceeded: every loaded model is in use", "loading", loading)
			return
		}
		slices.SortFunc(idle, func(a, b string) int { return e.resident[a].lastUsed.Compare(e.resident[b].lastUsed) })
		victim := idle[0]
		r := e.resident[victim]
		delete(e.resident, victim)
		e.mu.Unlock()
		e.closeModel(victim, r, "memory budget")
	}
}

func (e *Engine) closeModel(id string, r *resident, reason string) {
	if err := r.model.Close(); err != nil {
		e.log.Warn("model close failed", "model", id, "err", err)
	}
	e.metrics.ModelUnloads.WithLabelValues(id, reason).Inc()
	e.metrics.ResidentBytes.WithLabelValues(id).Set(0)
	e.log.Info("model unloaded", "model", id, "reason", reason)
}

// reapIdle unloads models idle past their keep-alive.
func (e *Engine) reapIdle() {
	defer close(e.stopped)
	ticker := time.NewTicker(reapInterval)
	defer ticker.Stop()
	for {
		select {
		case <-e.stop:
			return
		case now := <-ticker.C:
			e.unloadIdle(now)
		}
	}
}

func (e *Engine) unloadIdle(now time.Time) {
	e.mu.Lock()
	expired := map[string]*resident{}
	for id, r := range e.resident {
		if r.loaded() && r.inUse == 0 && r.keepAlive >= 0 && now.Sub(r.lastUsed) >= r.keepAlive {
			expired[id] = r
			delete(e.resident, id)
		}
	}
	e.mu.Unlock()
	for id, r := range expired {
		e.closeModel(id, r, "idle")
	}
}

// Load loads a model now (the control API's load); it returns when the model
// is ready.
func (e *Engine) Load(ctx context.Context, modelID string) error {
	entry, err := e.catalog.Resolve(modelID)
	if err != nil {
		return err
	}
	_, release, err := e.acquire(ctx, entry)
	if err == nil {
		release()
	}
	return err
}

// Unload unloads a model at once, or fails with capacity if it is in use.
func (e *Engine) Unload(modelID string) error {
	entry, err := e.catalog.Resolve(modelID)
	if err != nil {
		return err
	}
	e.mu.Lock()
	r, ok := e.resident[entry.ID]
	switch {
	case !ok:
		e.mu.Unlock()
		return nil
	case !r.loaded():
		// Still loading: the load finishes and the model stays, as a load
		// that others wait for must not be cut short. A failed load is
		// forgotten, so the next request retries at once. r.err is read
		// under mu, where load writes it, and only r itself is removed.
		if r.err != nil {
			delete(e.resident, entry.ID)
		}
		e.mu.Unlock()
		return nil
	case r.inUse > 0:
		inUse := r.inUse
		e.mu.Unlock()
		return &Error{Kind: KindCapacity, Message: fmt.Sprintf("Model %s is serving %d requests; try again when it is idle", entry.ID, inUse), RetryAfter: time.Second}
	}
	delete(e.resident, entry.ID)
	e.mu.Unlock()
	e.closeModel(entry.ID, r, "requested")
	return nil
}

// ModelState is one catalog model's residency, for GET /edgeinfer/v1/models.
type ModelState struct {
	Model     string    `json:"model"`
	Task      Task      `json:"task"`
	State     string    `json:"state"` // unloaded, loading, loaded, failed
	Synthetic bool      `json:"synthetic"`
	Bytes     int64     `json:"bytes"`
	InUse     int       `json:"in_use"`
	LoadedAt  time.Time `json:"loaded_at,omitzero"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Device    string    `json:"device"`
	// ExecutionProvider is the ONNX Runtime provider a loaded model runs on.
	ExecutionProvider string `json:"execution_provider,omitempty"`
	// Fallback says why a loaded model runs on the CPU instead of its
	// configured device.
	Fallback string `json:"fallback,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Models reports every catalog model's residency.
func (e *Engine) Models() []ModelState {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []ModelState
	for _, entry := range e.catalog.Entries() {
		st := ModelState{Model: entry.ID, Task: entry.Task, State: "unloaded", Device: e.deviceOf(entry.ID)}
		if r, ok := e.resident[entry.ID]; ok {
			select {
			case <-r.ready:
				if r.err != nil {
					st.State, st.Error = "failed", Describe(r.err).Message
				} else {
					st.State, st.Synthetic, st.Bytes, st.InUse = "loaded", r.inst.Synthetic, r.inst.Bytes, r.inUse
					st.LoadedAt, st.LastUsed = r.loadedAt, r.lastUsed
					st.ExecutionProvider, st.Fallback = r.placement.ExecutionProvider, r.placement.Fallback
					if r.inUse == 0 && r.keepAlive >= 0 {
						st.ExpiresAt = r.lastUsed.Add(r.keepAlive)
					}
				}
			default:
				st.State = "loading"
			}
		}
		out = append(out, st)
	}
	return out
}

func (e *Engine) deviceOf(id string) string {
	if d := e.cfg.ForModel(id).Device; d != "" {
		return d
	}
	return "cpu"
}

// Preload starts loading every model marked preload in the config and
// waits for them; failures are logged and returned together.
func (e *Engine) Preload(ctx context.Context) error {
	var errs []error
	for id, mc := range e.cfg.Models {
		if mc.Preload {
			if err := e.Load(ctx, id); err != nil {
				errs = append(errs, fmt.Errorf("preload %s: %w", id, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops the reaper and unloads every resident model.
func (e *Engine) Close() error {
	e.stopOnce.Do(func() { close(e.stop) }) // two Closes at once must not close it twice
	<-e.stopped
	e.mu.Lock()
	e.closed = true
	residents := e.resident
	e.resident = map[string]*resident{}
	e.mu.Unlock()
	var errs []error
	for id, r := range residents {
		select {
		case <-r.ready:
		default:
			// A load in progress finishes first: the model it opens must
			// be closed here, since nothing tracks it after Close.
			e.log.Info("waiting for a model load to finish before closing", "model", id)
			<-r.ready
		}
		if r.model != nil {
			errs = append(errs, r.model.Close())
		}
	}
	return errors.Join(errs...)
}
