// Package gateway gives edgeinfer what Workers AI users get from the Batch
// API and AI Gateway: async batch jobs (queueRequest) that survive
// restarts, a response cache with AI Gateway's controls, per-token rate
// limits at Workers AI's requests per minute, and usage with a neurons
// estimate. Its state lives in a Store: embedded for one server, Redis for
// a fleet of servers that act as one.
package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Gateway.
type Options struct {
	// Config supplies the gateway section, per-model rpm overrides and
	// server.request_timeout, which bounds each batch item.
	Config engine.Config
	// Store is required: OpenLocal or OpenRedis.
	Store *Store
	// Metrics is where the gateway's series are registered (the engine's
	// registry); nil registers nothing.
	Metrics prometheus.Registerer
	Log     *slog.Logger
}

// Gateway wraps the engine with the cache, rate limits, usage and batch
// jobs. Its workers run batch jobs from the store until Close.
type Gateway struct {
	eng         *engine.Engine
	store       *Store
	cfg         engine.Config
	metrics     *metrics
	log         *slog.Logger
	owner       string        // this server, as a job lease holder
	lease       time.Duration // how long a claimed job stays ours without renewal
	idlePoll    time.Duration // how often idle workers look for jobs
	itemTimeout time.Duration

	wake   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Lease timing: a server renews its jobs' leases every jobLease/3, so a job
// of a server that died is taken over within jobLease.
const (
	jobLease       = 30 * time.Second
	localIdlePoll  = 5 * time.Second
	sharedIdlePoll = 250 * time.Millisecond
)

// New starts a gateway over eng with cfg.Gateway.BatchWorkers job workers.
func New(eng *engine.Engine, opts Options) *Gateway {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	host, _ := os.Hostname()
	g := &Gateway{eng: eng, store: opts.Store, cfg: opts.Config, metrics: newMetrics(opts.Metrics), log: opts.Log,
		owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8]), lease: jobLease,
		idlePoll: localIdlePoll, itemTimeout: time.Duration(opts.Config.Server.RequestTimeout), wake: make(chan struct{}, 1)}
	if opts.Store.Shared {
		g.idlePoll = sharedIdlePoll // jobs submitted to other servers arrive without a wake-up
	}
	g.start()
	return g
}

func (g *Gateway) start() {
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	for range max(1, g.cfg.Gateway.BatchWorkers) {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.work(ctx)
		}()
	}
}

// Close stops the workers. Jobs they were running are handed back to the
// store unfinished, to be resumed by the next server that claims them.
func (g *Gateway) Close() {
	g.cancel()
	g.wg.Wait()
}

// Request is one interactive inference through the gateway.
type Request struct {
	Model string
	Input engine.Input
	// Token is the API token the caller presented, "" for none; only a
	// short hash of it is ever stored or shown.
	Token string
	Cache CacheOptions
}

// Response is an inference's outcome: JSON, or a stream for stream:true.
type Response struct {
	JSON   json.RawMessage
	Stream *engine.TextStream
	// Output is the engine's output behind JSON when the inference ran for
	// this request; nil for a cache hit, whose JSON is all there is.
	// (Without a gateway, httpapi answers with Output alone.)
	Output any
	// CacheStatus is CacheHit or CacheMiss for a cacheable request, ""
	// otherwise.
	CacheStatus string
}

// Run validates a request, answers it from the cache when it may, else
// applies the rate limit, runs it and meters its usage.
func (g *Gateway) Run(ctx context.Context, req Request) (Response, error) {
	entry, value, err := g.eng.Decode(req.Model, req.Input)
	if err != nil {
		return Response{}, err
	}
	caller := callerID(req.Token)
	ttl := req.Cache.TTL
	if ttl <= 0 {
		ttl = time.Duration(g.cfg.Gateway.CacheTTL)
	}
	cacheable := ttl > 0 && deterministic(value)
	var key string
	if cacheable {
		if key, err = cacheKey(entry.ID, value, req.Cache.Key); err != nil {
			return Response{}, engine.Internal(err)
		}
		if !req.Cache.Skip {
			if raw, ok := g.cacheGet(ctx, key); ok {
				g.metrics.cache.WithLabelValues(entry.ID, "hit").Inc()
				g.record(ctx, caller, entry, Usage{Requests: 1, CachedRequests: 1})
				return Response{JSON: raw, CacheStatus: CacheHit}, nil
			}
		}
		g.metrics.cache.WithLabelValues(entry.ID, "miss").Inc()
	}
	if err := g.limit(ctx, caller, entry); err != nil {
		return Response{}, err
	}
	out, err := g.eng.Run(ctx, entry.ID, engine.Input{Value: value})
	if err != nil {
		return Response{}, err
	}
	if stream, ok := out.(*engine.TextStream); ok {
		return Response{Stream: g.meterStream(ctx, caller, entry, stream)}, nil
	}
	g.record(ctx, caller, entry, usageOf(entry, value, out))
	raw, err := json.Marshal(out)
	if err != nil {
		return Response{}, engine.Internal(err)
	}
	resp := Response{JSON: raw, Output: out}
	if cacheable {
		resp.CacheStatus = CacheMiss
		if !req.Cache.Skip {
			if err := g.store.Cache.Put(ctx, key, raw, ttl); err != nil {
				g.log.Warn("response cache write failed", "model", entry.ID, "err", err)
			}
		}
	}
	return resp, nil
}

// cacheGet reads the cache; a failing cache is a miss, not a failed request.
func (g *Gateway) cacheGet(ctx context.Context, key string) ([]byte, bool) {
	raw, ok, err := g.store.Cache.Get(ctx, key)
	if err != nil {
		g.log.Warn("response cache read failed", "err", err)
		return nil, false
	}
	return raw, ok
}

// limit applies the caller's rate limit for entry when rate limiting is on.
// A failing limiter lets the request through: availability wins over
// accounting for a local tool.
func (g *Gateway) limit(ctx context.Context, caller string, entry *engine.Entry) error {
	if !g.cfg.Gateway.RateLimit {
		return nil
	}
	rpm := rpmFor(g.eng.Catalog(), g.cfg, entry)
	if rpm <= 0 {
		return nil
	}
	wait, err := g.store.Limiter.Take(ctx, caller+"|"+entry.ID, rpm)
	if err != nil {
		g.log.Warn("rate limiter failed; letting the request through", "model", entry.ID, "err", err)
		return nil
	}
	if wait > 0 {
		g.metrics.rateLimited.WithLabelValues(entry.ID).Inc()
		return rateLimited(entry.ID, rpm, wait)
	}
	return nil
}

// record adds usage to the ledger and the metrics. It outlives the request's
// context: usage of a finished request counts even if its client left.
func (g *Gateway) record(ctx context.Context, caller string, entry *engine.Entry, u Usage) {
	g.metrics.observe(entry.ID, u)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := g.store.Usage.Add(ctx, caller, entry.ID, u); err != nil {
		g.log.Warn("recording usage failed", "model", entry.ID, "err", err)
	}
}

// meterStream passes a stream's events through and records the usage its
// final event carries. Like every TextStream, its consumer must drain it.
func (g *Gateway) meterStream(ctx context.Context, caller string, entry *engine.Entry, in *engine.TextStream) *engine.TextStream {
	ch := make(chan engine.StreamEvent)
	go func() {
		defer close(ch)
		for ev := range in.Events {
			if ev.Usage != nil {
				g.record(ctx, caller, entry, usageOf(entry, nil, ev.Usage))
			}
			ch <- ev
		}
	}()
	return &engine.TextStream{Events: ch}
}

// UsageReport is the answer of GET /edgeinfer/v1/usage.
type UsageReport struct {
	// Caller identifies the token that asked, so it can find itself.
	Caller  string        `json:"caller"`
	Callers []CallerUsage `json:"callers"`
}

// CallerUsage is one API token's usage, identified by a short hash.
type CallerUsage struct {
	Caller string           `json:"caller"`
	Total  Usage            `json:"total"`
	Models map[string]Usage `json:"models"`
}

// Usage reports usage per API token (by hash) and model, for the fleet when
// the store is shared.
func (g *Gateway) Usage(ctx context.Context, token string) (*UsageReport, error) {
	all, err := g.store.Usage.Report(ctx)
	if err != nil {
		return nil, engine.Internal(err)
	}
	rep := &UsageReport{Caller: callerID(token), Callers: []CallerUsage{}}
	for caller, byModel := range all {
		cu := CallerUsage{Caller: caller, Models: byModel}
		for _, u := range byModel {
			cu.Total.Add(u)
		}
		rep.Callers = append(rep.Callers, cu)
	}
	sort.Slice(rep.Callers, func(i, j int) bool { return rep.Callers[i].Caller < rep.Callers[j].Caller })
	return rep, nil
}
