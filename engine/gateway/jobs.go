package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/google/uuid"
)

// MaxBatchPayload is Workers AI's bound on a queued request: under 10 MB.
const MaxBatchPayload = 10 << 20

// JobStatus is what submitting or polling an unfinished job returns.
type JobStatus struct {
	Status    string `json:"status"`
	RequestID string `json:"request_id"`
	Model     string `json:"model"`
}

// JobResult is a finished job, as polling returns it.
type JobResult struct {
	Responses []ItemResponse `json:"responses"`
	Usage     engine.Usage   `json:"usage"`
}

// ItemResponse is one request's outcome; ID is its index in requests.
type ItemResponse struct {
	ID                int             `json:"id"`
	Result            json.RawMessage `json:"result"`
	Success           bool            `json:"success"`
	ExternalReference json.RawMessage `json:"external_reference"`
	Error             *ItemError      `json:"error,omitempty"`
}

// ItemError is why an item failed, in Workers AI's code/message form.
type ItemError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// itemRecord is an item's stored result.
type itemRecord struct {
	Success bool            `json:"success"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *ItemError      `json:"error,omitempty"`
	Usage   engine.Usage    `json:"usage"`
}

// PollID reports whether a model input is a poll, {"request_id": "…"}, and
// returns the ID. No task's input has a request_id field, so the shape is
// unambiguous.
func PollID(input []byte) (string, bool) {
	input = bytes.TrimSpace(input)
	if len(input) == 0 || input[0] != '{' {
		return "", false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(input, &m) != nil {
		return "", false
	}
	var id string
	if raw, ok := m["request_id"]; !ok || json.Unmarshal(raw, &id) != nil || id == "" {
		return "", false
	}
	return id, true
}

// Submit validates every request of a {requests:[…]} body up front (a bad
// one is a 400 naming requests[i].field), stores the job and wakes a worker.
// The job counts once against the caller's rate limit.
func (g *Gateway) Submit(ctx context.Context, model, token string, body []byte) (*JobStatus, error) {
	if len(body) >= MaxBatchPayload {
		return nil, engine.TooLarge("", "a queued request must be under %d bytes", MaxBatchPayload)
	}
	entry, err := g.eng.Catalog().Resolve(model)
	if err != nil {
		return nil, err
	}
	requests, refs, err := g.validateRequests(entry, body)
	if err != nil {
		return nil, err
	}
	caller := callerID(token)
	if err := g.limit(ctx, caller, entry); err != nil {
		return nil, err
	}
	job := &Job{ID: uuid.NewString(), Model: entry.ID, Caller: caller, Status: StatusQueued, Count: len(requests),
		Refs: refs, Created: time.Now()}
	if err := g.store.Jobs.Enqueue(ctx, job, requests); err != nil {
		return nil, engine.Internal(fmt.Errorf("storing batch job: %w", err))
	}
	g.metrics.jobs.WithLabelValues(entry.ID, "submitted").Inc()
	select {
	case g.wake <- struct{}{}:
	default:
	}
	return &JobStatus{Status: StatusQueued, RequestID: job.ID, Model: entry.ID}, nil
}

// validateRequests splits a batch body into its requests and their
// external_reference values, decoding each request as the model's task
// input.
func (g *Gateway) validateRequests(entry *engine.Entry, body []byte) ([]json.RawMessage, []json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, nil, engine.BadInput("/", "a queued request must be a JSON object {\"requests\": [...]}")
	}
	var requests []json.RawMessage
	if raw, ok := top["requests"]; !ok {
		return nil, nil, engine.BadInput("requests", "is required with queueRequest")
	} else if json.Unmarshal(raw, &requests) != nil {
		return nil, nil, engine.BadInput("requests", "must be an array of request objects")
	}
	if len(requests) == 0 {
		return nil, nil, engine.BadInput("requests", "must contain at least 1 item")
	}
	refs := make([]json.RawMessage, len(requests))
	for i, raw := range requests {
		field := fmt.Sprintf("requests[%d]", i)
		_, value, err := g.eng.Decode(entry.ID, engine.Input{JSON: raw})
		if err != nil {
			return nil, nil, engine.InField(err, field)
		}
		if gen, ok := value.(*engine.GenerationInput); ok && gen.Stream {
			return nil, nil, engine.BadInput(field+".stream", "streaming is not available in batch requests")
		}
		var item struct {
			Ref json.RawMessage `json:"external_reference"`
		}
		_ = json.Unmarshal(raw, &item) // Decode accepted raw as an object
		refs[i] = item.Ref
		if len(refs[i]) == 0 {
			refs[i] = json.RawMessage("null")
		}
	}
	return requests, refs, nil
}

// Poll returns a job's status while it is queued or running, and its
// results once done. Only the token that submitted a job may poll it; to
// anyone else, as after its retention, it does not exist.
func (g *Gateway) Poll(ctx context.Context, model, token, id string) (any, error) {
	entry, err := g.eng.Catalog().Resolve(model)
	if err != nil {
		return nil, err
	}
	job, err := g.store.Jobs.Get(ctx, id)
	if err != nil {
		return nil, engine.Internal(fmt.Errorf("reading batch job: %w", err))
	}
	if job == nil || job.Model != entry.ID || job.Caller != callerID(token) {
		return nil, engine.Errorf(engine.KindNotFound, "No queued request %s for model %s (results expire after their retention)", id, entry.ID)
	}
	if job.Status != StatusDone {
		return &JobStatus{Status: job.Status, RequestID: job.ID, Model: job.Model}, nil
	}
	results, err := g.store.Jobs.Results(ctx, id)
	if err != nil {
		return nil, engine.Internal(fmt.Errorf("reading batch results: %w", err))
	}
	out := &JobResult{Responses: make([]ItemResponse, job.Count)}
	for i := range job.Count {
		resp := ItemResponse{ID: i, Result: json.RawMessage("null"), ExternalReference: json.RawMessage("null")}
		if i < len(job.Refs) {
			resp.ExternalReference = job.Refs[i]
		}
		var rec itemRecord
		if err := json.Unmarshal(results[i], &rec); err != nil {
			rec.Error = &ItemError{Code: 5000, Message: "Internal error: result missing"}
		}
		resp.Success, resp.Error = rec.Success, rec.Error
		if rec.Success {
			resp.Result = rec.Result
		}
		out.Usage.PromptTokens += rec.Usage.PromptTokens
		out.Usage.CompletionTokens += rec.Usage.CompletionTokens
		out.Responses[i] = resp
	}
	out.Usage.TotalTokens = out.Usage.PromptTokens + out.Usage.CompletionTokens
	return out, nil
}

// work claims and runs jobs until ctx ends.
func (g *Gateway) work(ctx context.Context) {
	for ctx.Err() == nil {
		job, err := g.claim(ctx)
		if err != nil {
			g.log.Warn("claiming a batch job failed", "err", err)
		}
		if job == nil {
			select {
			case <-ctx.Done():
			case <-g.wake:
			case <-time.After(g.idlePoll):
			}
			continue
		}
		g.runJob(ctx, job)
	}
}

// claim takes the next job. The store call is not cancelled with ctx: a
// claim cut off mid-call could take a job without our knowing, stranding it
// until its lease lapses; a job claimed as ctx ends is handed back instead.
func (g *Gateway) claim(ctx context.Context) (*Job, error) {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	job, err := g.store.Jobs.Claim(callCtx, g.owner, g.lease)
	if job != nil && ctx.Err() != nil {
		g.release(ctx, job.ID)
		return nil, nil
	}
	return job, err
}

// runJob runs a job's remaining items at low priority, BatchConcurrency at a
// time, saving each result as it comes, and finishes the job. If ctx ends
// (shutdown) or the lease is lost, it stops without finishing; unsaved
// items run again wherever the job resumes.
func (g *Gateway) runJob(ctx context.Context, job *Job) {
	jobCtx, cancel := context.WithCancel(ctx)
	var leaseDone sync.WaitGroup
	leaseDone.Add(1)
	go func() {
		defer leaseDone.Done()
		g.keepLease(jobCtx, cancel, job.ID)
	}()
	defer leaseDone.Wait()
	defer cancel()
	log := g.log.With("request_id", job.ID, "model", job.Model)
	requests, err := g.store.Jobs.Requests(jobCtx, job.ID)
	var done map[int][]byte
	if err == nil {
		done, err = g.store.Jobs.Results(jobCtx, job.ID)
	}
	if err != nil {
		if ctx.Err() == nil {
			log.Error("reading a batch job failed; it will be retried", "err", err)
		}
		g.release(ctx, job.ID)
		return
	}
	log.Info("running batch job", "items", len(requests), "already_done", len(done))
	sem := make(chan struct{}, max(1, g.cfg.Gateway.BatchConcurrency))
	var wg sync.WaitGroup
	var unsaved atomic.Int64
feed:
	for i, raw := range requests {
		if _, ok := done[i]; ok {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-jobCtx.Done():
			break feed
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if !g.runItem(jobCtx, job, i, raw) {
				unsaved.Add(1)
			}
		}()
	}
	wg.Wait()
	if jobCtx.Err() != nil {
		if ctx.Err() != nil {
			log.Info("handing back an unfinished batch job")
			g.release(ctx, job.ID)
		}
		return
	}
	if n := unsaved.Load(); n > 0 {
		// Finishing now would lose those items (a full disk, a dropped
		// store connection): hand the job back and let it run again after
		// a pause, so a store that stays broken is not hammered.
		log.Warn("batch results could not be saved; the job is handed back and retried", "unsaved", n)
		g.release(ctx, job.ID)
		select {
		case <-ctx.Done():
		case <-time.After(saveRetryDelay):
		}
		return
	}
	// Every item is saved: finish even if shutdown starts now, rather than
	// leave the job leased by a server that is going away.
	finishCtx, cancelFinish := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelFinish()
	if ok, err := g.store.Jobs.Finish(finishCtx, job.ID, g.owner, time.Duration(g.cfg.Gateway.JobRetention)); err != nil {
		log.Error("finishing a batch job failed; it will be resumed", "err", err)
	} else if ok {
		g.metrics.jobs.WithLabelValues(job.Model, "finished").Inc()
		log.Info("batch job finished", "items", len(requests))
	}
}

// release hands a job back when this server stops working on it.
func (g *Gateway) release(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := g.store.Jobs.Release(ctx, id, g.owner); err != nil {
		g.log.Warn("handing back a batch job failed; it resumes when its lease lapses", "request_id", id, "err", err)
	}
}

// keepLease renews the job's lease until ctx ends, and cancels the job if
// the lease was lost (another server took it over).
func (g *Gateway) keepLease(ctx context.Context, cancel context.CancelFunc, id string) {
	t := time.NewTicker(g.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ok, err := g.store.Jobs.Renew(ctx, id, g.owner, g.lease)
			if err != nil {
				g.log.Warn("renewing a batch job lease failed", "request_id", id, "err", err)
				continue
			}
			if !ok {
				g.log.Warn("lost a batch job lease; another server resumes it", "request_id", id)
				cancel()
				return
			}
		}
	}
}

// saveRetryDelay is how long a job whose results could not be saved waits
// before it runs again.
const saveRetryDelay = time.Second

// runItem runs one request of a job and saves its outcome, reporting
// whether it was saved. Capacity refusals are waited out; an end of ctx
// leaves the item unsaved.
func (g *Gateway) runItem(ctx context.Context, job *Job, index int, raw json.RawMessage) (saved bool) {
	for {
		rec, usage, entry, err := g.runOnce(ctx, job, raw)
		if ctx.Err() != nil {
			return false
		}
		var e *engine.Error
		if errors.As(err, &e) && e.Kind == engine.KindCapacity {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(max(e.RetryAfter, 100*time.Millisecond)):
			}
			continue
		}
		result := "success"
		if !rec.Success {
			result = "failure"
		}
		g.metrics.jobItems.WithLabelValues(job.Model, result).Inc()
		raw, mErr := json.Marshal(rec)
		if mErr == nil {
			mErr = g.store.Jobs.SaveResult(ctx, job.ID, index, raw)
		}
		if mErr != nil {
			g.log.Error("saving a batch result failed; the item runs again", "request_id", job.ID, "item", index, "err", mErr)
			return false
		}
		if entry != nil && rec.Success {
			g.record(ctx, job.Caller, entry, usage)
		}
		return true
	}
}

// runOnce runs a job item at low priority, bounded by the request timeout.
func (g *Gateway) runOnce(ctx context.Context, job *Job, raw json.RawMessage) (itemRecord, Usage, *engine.Entry, error) {
	entry, value, err := g.eng.Decode(job.Model, engine.Input{JSON: raw})
	if err != nil {
		return failed(err), Usage{}, nil, err
	}
	ctx = engine.WithOptions(ctx, engine.RunOptions{LowPriority: true})
	if g.itemTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.itemTimeout)
		defer cancel()
	}
	out, err := g.eng.Run(ctx, entry.ID, engine.Input{Value: value})
	if err != nil {
		return failed(err), Usage{}, entry, err
	}
	result, err := json.Marshal(out)
	if err != nil {
		return failed(engine.Internal(err)), Usage{}, entry, err
	}
	u := usageOf(entry, value, out)
	return itemRecord{Success: true, Result: result,
		Usage: engine.Usage{PromptTokens: int(u.PromptTokens), CompletionTokens: int(u.CompletionTokens),
			TotalTokens: int(u.PromptTokens + u.CompletionTokens)}}, u, entry, nil
}

func failed(err error) itemRecord {
	d := engine.Describe(err)
	return itemRecord{Error: &ItemError{Code: d.Code, Message: d.Message}}
}
