package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// waitResult polls a job until it is done.
func waitResult(t *testing.T, g *Gateway, model, token, id string) *JobResult {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, err := g.Poll(testCtx(t), model, token, id)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if res, ok := out.(*JobResult); ok {
			return res
		}
		if st := out.(*JobStatus); st.Status != StatusQueued && st.Status != StatusRunning {
			t.Fatalf("pending status %q", st.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("job %s did not finish", id)
	return nil
}

func TestBatchJobRunsAtLowPriorityAndReturnsResultsInOrder(t *testing.T) {
	for _, kind := range storeKinds() {
		t.Run(kind.name, func(t *testing.T) {
			backend := newFakeBackend()
			cfg := testConfig()
			store := kind.open(t, cfg.Gateway.CacheMaxBytes)
			g := New(newEngine(t, cfg, backend), Options{Config: cfg, Store: store})
			t.Cleanup(g.Close)
			ctx := testCtx(t)
			body := `{"requests":[
				{"text":"alpha beta","external_reference":"doc-1"},
				{"text":["gamma","delta epsilon"]},
				{"text":"explode","external_reference":{"row":3}}]}`
			st, err := g.Submit(ctx, bgeSmall, "tok-1", []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if st.Status != StatusQueued || st.Model != bgeSmall || len(st.RequestID) != 36 {
				t.Fatalf("submit = %+v", st)
			}
			res := waitResult(t, g, bgeSmall, "tok-1", st.RequestID)
			if len(res.Responses) != 3 {
				t.Fatalf("responses = %+v", res.Responses)
			}
			for i, want := range []struct {
				ok  bool
				ref string
			}{{true, `"doc-1"`}, {true, `null`}, {false, `{"row":3}`}} {
				r := res.Responses[i]
				if r.ID != i || r.Success != want.ok || string(r.ExternalReference) != want.ref {
					t.Errorf("response %d = %+v, want success=%v ref=%s", i, r, want.ok, want.ref)
				}
			}
			var first engine.EmbeddingsOutput
			if err := json.Unmarshal(res.Responses[0].Result, &first); err != nil || first.Shape != [2]int{1, 2} || first.Data[0][0] != float32(len("alpha beta")) {
				t.Fatalf("first result %s, %v", res.Responses[0].Result, err)
			}
			if e := res.Responses[2].Error; e == nil || e.Code != 5000 || string(res.Responses[2].Result) != "null" {
				t.Fatalf("failed item = %+v", res.Responses[2])
			}
			// alpha beta: 2+2 tokens; gamma: 1+2; delta epsilon: 2+2.
			if res.Usage.PromptTokens != 11 || res.Usage.TotalTokens != 11 {
				t.Fatalf("usage = %+v, want 11 prompt tokens", res.Usage)
			}
			if n := backend.lowPriorityRuns(); n != 3 {
				t.Fatalf("%d of the 3 successful texts ran at low priority", n)
			}
			rep, err := g.Usage(ctx, "tok-1")
			if err != nil || rep.Callers[0].Models[bgeSmall].PromptTokens != 11 {
				t.Fatalf("the job's usage is not charged to its token: %+v, %v", rep, err)
			}
		})
	}
}

func TestBatchSubmitValidatesEveryRequestUpFront(t *testing.T) {
	g, _ := newGateway(t, testConfig(), newFakeBackend())
	tests := []struct {
		name, model, body string
		wantStatus        int
		wantField         string
	}{
		{"bad item names its index", bgeSmall, `{"requests":[{"text":"ok"},{"text":"ok"},{"text":"ok"},{"text":""}]}`, 400, "requests[3].text"},
		{"bad element of an item", bgeSmall, `{"requests":[{"text":["a", 5]}]}`, 400, "requests[0].text[1]"},
		{"item not an object", bgeSmall, `{"requests":[{"text":"a"}, "b"]}`, 400, "requests[1]"},
		{"requests missing", bgeSmall, `{"text":"a"}`, 400, "requests"},
		{"requests not an array", bgeSmall, `{"requests":{"text":"a"}}`, 400, "requests"},
		{"no requests", bgeSmall, `{"requests":[]}`, 400, "requests"},
		{"streaming item", "@cf/meta/llama-2-7b-chat-int8", `{"requests":[{"prompt":"hi","stream":true}]}`, 400, "requests[0].stream"},
		{"translation item", "@cf/meta/m2m100-1.2b", `{"requests":[{"text":"hi","target_lang":"fr"},{"text":"hi"}]}`, 400, "requests[1].target_lang"},
		{"payload of 10 MB", bgeSmall, `{"requests":[{"text":"` + strings.Repeat("a", MaxBatchPayload) + `"}]}`, 413, ""},
		{"unknown model", "@cf/nobody/nothing", `{"requests":[{"text":"a"}]}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := g.Submit(testCtx(t), tt.model, "", []byte(tt.body))
			d := engine.Describe(err)
			if d.Status != tt.wantStatus {
				t.Fatalf("status %d (%v), want %d", d.Status, err, tt.wantStatus)
			}
			if tt.wantField != "" && !strings.Contains(d.Message, "'"+tt.wantField+"'") {
				t.Fatalf("message %q does not name %q", d.Message, tt.wantField)
			}
		})
	}
}

func TestPollFindsOnlyTheSubmittersJobOnItsModel(t *testing.T) {
	g, _ := newGateway(t, testConfig(), newFakeBackend())
	ctx := testCtx(t)
	st, err := g.Submit(ctx, bgeSmall, "tok-1", []byte(`{"requests":[{"text":"a"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	waitResult(t, g, bgeSmall, "tok-1", st.RequestID)
	for name, poll := range map[string]func() (any, error){
		"another token":  func() (any, error) { return g.Poll(ctx, bgeSmall, "tok-2", st.RequestID) },
		"another model":  func() (any, error) { return g.Poll(ctx, "@cf/baai/bge-base-en-v1.5", "tok-1", st.RequestID) },
		"an unknown job": func() (any, error) { return g.Poll(ctx, bgeSmall, "tok-1", "00000000-0000-4000-8000-000000000000") },
	} {
		if _, err := poll(); engine.Describe(err).Status != 404 {
			t.Errorf("%s: %v, want 404", name, err)
		}
	}
}

// A server that stops mid-job loses nothing: the next one to open the
// store resumes the job from the saved items, running each item once.
func TestBatchJobResumesAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "gateway.db")
	cfg := testConfig()
	cfg.Gateway.BatchConcurrency = 1 // one item at a time, so the stop point is exact
	backend := newFakeBackend()
	backend.gate = make(chan struct{})
	backend.started = make(chan string, 16)
	eng := newEngine(t, cfg, backend)

	store, err := OpenLocal(path, cfg.Gateway.CacheMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	g := New(eng, Options{Config: cfg, Store: store})
	var items []string
	for i := range 5 {
		items = append(items, fmt.Sprintf(`{"text":"item-%d"}`, i))
	}
	st, err := g.Submit(testCtx(t), bgeSmall, "tok-1", []byte(`{"requests":[`+strings.Join(items, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // let two items finish
		if got := <-backend.started; got != fmt.Sprintf("item-%d", i) {
			t.Fatalf("started %q, want item-%d", got, i)
		}
		backend.gate <- struct{}{}
	}
	if got := <-backend.started; got != "item-2" { // the third is running when the server stops
		t.Fatalf("started %q", got)
	}
	waitSaved(t, store.Jobs, st.RequestID, 2)
	g.Close()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	close(backend.gate)
	backend.started = nil
	store, err = OpenLocal(path, cfg.Gateway.CacheMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	g = New(eng, Options{Config: cfg, Store: store})
	defer g.Close()
	res := waitResult(t, g, bgeSmall, "tok-1", st.RequestID)
	for i, r := range res.Responses {
		if !r.Success {
			t.Errorf("item %d failed: %+v", i, r.Error)
		}
		if n := backend.count(fmt.Sprintf("item-%d", i)); n != 1 {
			t.Errorf("item-%d ran %d times, want once", i, n)
		}
	}
}

// waitSaved waits until n results of a job are saved.
func waitSaved(t *testing.T, jobs JobStore, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got, err := jobs.Results(context.Background(), id); err == nil && len(got) >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%d results never saved", n)
}
