package gateway

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

func newJob(id string, n int) (*Job, []json.RawMessage) {
	reqs := make([]json.RawMessage, n)
	refs := make([]json.RawMessage, n)
	for i := range reqs {
		reqs[i] = json.RawMessage(fmt.Sprintf(`{"text":"item %d"}`, i))
		refs[i] = json.RawMessage(fmt.Sprintf(`"ref-%d"`, i))
	}
	return &Job{ID: id, Model: "@cf/baai/bge-small-en-v1.5", Caller: "anonymous", Status: StatusQueued, Count: n,
		Refs: refs, Created: time.Now()}, reqs
}

// Every store must hand out jobs oldest first, one owner at a time, keep
// results by index, and refuse a finish by an owner that lost the job.
func TestJobStoreLifecycle(t *testing.T) {
	for _, kind := range storeKinds() {
		t.Run(kind.name, func(t *testing.T) {
			ctx := testCtx(t)
			jobs := kind.open(t, 1<<20).Jobs
			for _, id := range []string{"job-a", "job-b"} {
				job, reqs := newJob(id, 3)
				if err := jobs.Enqueue(ctx, job, reqs); err != nil {
					t.Fatal(err)
				}
			}
			first, err := jobs.Claim(ctx, "server-1", time.Minute)
			if err != nil || first == nil || first.ID != "job-a" || first.Status != StatusRunning {
				t.Fatalf("first claim = %+v, %v; want job-a running", first, err)
			}
			second, err := jobs.Claim(ctx, "server-2", time.Minute)
			if err != nil || second == nil || second.ID != "job-b" {
				t.Fatalf("second claim = %+v, %v; want job-b", second, err)
			}
			if none, err := jobs.Claim(ctx, "server-3", time.Minute); err != nil || none != nil {
				t.Fatalf("claim on an empty queue = %+v, %v", none, err)
			}
			reqs, err := jobs.Requests(ctx, "job-a")
			if err != nil || len(reqs) != 3 || string(reqs[2]) != `{"text":"item 2"}` {
				t.Fatalf("requests = %s, %v", reqs, err)
			}
			for i := range 3 {
				if err := jobs.SaveResult(ctx, "job-a", i, []byte(fmt.Sprintf(`{"i":%d}`, i))); err != nil {
					t.Fatal(err)
				}
			}
			if ok, err := jobs.Finish(ctx, "job-a", "server-2", time.Hour); err != nil || ok {
				t.Fatalf("finish by a non-owner = %v, %v; want refused", ok, err)
			}
			if ok, err := jobs.Finish(ctx, "job-a", "server-1", time.Hour); err != nil || !ok {
				t.Fatalf("finish by the owner = %v, %v", ok, err)
			}
			got, err := jobs.Get(ctx, "job-a")
			if err != nil || got == nil || got.Status != StatusDone || got.Count != 3 || string(got.Refs[1]) != `"ref-1"` {
				t.Fatalf("finished job = %+v, %v", got, err)
			}
			results, err := jobs.Results(ctx, "job-a")
			if err != nil || len(results) != 3 || string(results[2]) != `{"i":2}` {
				t.Fatalf("results = %v, %v", results, err)
			}
			if missing, err := jobs.Get(ctx, "no-such-job"); err != nil || missing != nil {
				t.Fatalf("unknown job = %+v, %v", missing, err)
			}
		})
	}
}

// A job whose lease lapses (its server died) or that is released (its
// server shut down) is claimed again, and the old owner can no longer renew
// or finish it.
func TestJobStoreLeases(t *testing.T) {
	for _, kind := range storeKinds() {
		t.Run(kind.name, func(t *testing.T) {
			ctx := testCtx(t)
			jobs := kind.open(t, 1<<20).Jobs
			job, reqs := newJob("job-a", 1)
			if err := jobs.Enqueue(ctx, job, reqs); err != nil {
				t.Fatal(err)
			}
			if j, err := jobs.Claim(ctx, "dead-server", 50*time.Millisecond); err != nil || j == nil {
				t.Fatalf("claim = %+v, %v", j, err)
			}
			if j, err := jobs.Claim(ctx, "server-2", time.Minute); err != nil || j != nil {
				t.Fatalf("a leased job was claimed twice: %+v, %v", j, err)
			}
			time.Sleep(150 * time.Millisecond) // let the lease lapse
			j, err := jobs.Claim(ctx, "server-2", time.Minute)
			if err != nil || j == nil || j.ID != "job-a" {
				t.Fatalf("claim after the lease lapsed = %+v, %v", j, err)
			}
			if ok, err := jobs.Renew(ctx, "job-a", "dead-server", time.Minute); err != nil || ok {
				t.Fatalf("renew by the old owner = %v, %v; want lost", ok, err)
			}
			if ok, err := jobs.Renew(ctx, "job-a", "server-2", time.Minute); err != nil || !ok {
				t.Fatalf("renew by the owner = %v, %v", ok, err)
			}
			if err := jobs.Release(ctx, "job-a", "server-2"); err != nil {
				t.Fatal(err)
			}
			j, err = jobs.Claim(ctx, "server-3", time.Minute)
			if err != nil || j == nil || j.ID != "job-a" {
				t.Fatalf("claim after release = %+v, %v", j, err)
			}
			if ok, _ := jobs.Finish(ctx, "job-a", "dead-server", time.Hour); ok {
				t.Fatal("the old owner finished a job it lost")
			}
		})
	}
}

// Finished jobs disappear after their retention.
func TestJobStoreRetention(t *testing.T) {
	for _, kind := range storeKinds() {
		t.Run(kind.name, func(t *testing.T) {
			ctx := testCtx(t)
			jobs := kind.open(t, 1<<20).Jobs
			job, reqs := newJob("job-a", 1)
			if err := jobs.Enqueue(ctx, job, reqs); err != nil {
				t.Fatal(err)
			}
			if _, err := jobs.Claim(ctx, "s", time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := jobs.SaveResult(ctx, "job-a", 0, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if ok, err := jobs.Finish(ctx, "job-a", "s", 100*time.Millisecond); err != nil || !ok {
				t.Fatalf("finish = %v, %v", ok, err)
			}
			if j, _ := jobs.Get(ctx, "job-a"); j == nil {
				t.Fatal("a finished job vanished before its retention")
			}
			time.Sleep(300 * time.Millisecond)
			if j, err := jobs.Get(ctx, "job-a"); err != nil || j != nil {
				t.Fatalf("job after its retention = %+v, %v", j, err)
			}
			if bj, ok := jobs.(*boltJobs); ok {
				if err := bj.sweep(); err != nil {
					t.Fatal(err)
				}
			}
			if results, err := jobs.Results(ctx, "job-a"); err != nil || len(results) != 0 {
				t.Fatalf("results after retention = %v, %v", results, err)
			}
		})
	}
}

// Every cache evicts the least recently used entries to stay within its
// byte bound, and forgets entries after their TTL.
func TestCacheLRUAndTTL(t *testing.T) {
	for _, kind := range storeKinds() {
		t.Run(kind.name, func(t *testing.T) {
			ctx := testCtx(t)
			// Each entry is a 1-byte key plus a 100-byte value: three fit.
			cache := kind.open(t, 350).Cache
			value := func(c byte) []byte { return []byte(string(slices.Repeat([]byte{c}, 100))) }
			for _, k := range []string{"a", "b", "c"} {
				if err := cache.Put(ctx, k, value(k[0]), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			if _, ok, _ := cache.Get(ctx, "a"); !ok { // a is now the most recently used
				t.Fatal("a missing before any eviction")
			}
			if err := cache.Put(ctx, "d", value('d'), time.Hour); err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
				v, ok, err := cache.Get(ctx, k)
				if err != nil || ok != want || (ok && string(v) != string(value(k[0]))) {
					t.Errorf("Get(%q) = %q, %v, %v; want present=%v", k, v, ok, err, want)
				}
			}
			if err := cache.Put(ctx, "huge", make([]byte, 400), time.Hour); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := cache.Get(ctx, "huge"); ok {
				t.Error("an entry larger than the cache was stored")
			}
			if _, ok, _ := cache.Get(ctx, "d"); !ok {
				t.Error("an oversized entry evicted the others")
			}
			if err := cache.Put(ctx, "short", []byte("x"), 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			time.Sleep(150 * time.Millisecond)
			if _, ok, _ := cache.Get(ctx, "short"); ok {
				t.Error("an entry outlived its TTL")
			}
		})
	}
}

// Every limiter makes the same decisions as take(): a full minute's burst,
// then refusals with the wait until the next request, per key.
func TestLimiterBurstsThenRefuses(t *testing.T) {
	for _, kind := range storeKinds() {
		t.Run(kind.name, func(t *testing.T) {
			ctx := testCtx(t)
			lim := kind.open(t, 1<<20).Limiter
			for i := range 3 {
				if wait, err := lim.Take(ctx, "tok|model", 3); err != nil || wait != 0 {
					t.Fatalf("request %d: wait %v, err %v", i+1, wait, err)
				}
			}
			wait, err := lim.Take(ctx, "tok|model", 3)
			if err != nil || wait <= 0 || wait > 20*time.Second {
				t.Fatalf("4th request at 3 rpm: wait %v, err %v; want (0, 20s]", wait, err)
			}
			if wait, _ := lim.Take(ctx, "other|model", 3); wait != 0 {
				t.Fatalf("another key was limited: wait %v", wait)
			}
		})
	}
}

func TestLedgerSumsPerCallerAndModel(t *testing.T) {
	for _, kind := range storeKinds() {
		t.Run(kind.name, func(t *testing.T) {
			ctx := testCtx(t)
			led := kind.open(t, 1<<20).Usage
			add := func(caller, model string, u Usage) {
				if err := led.Add(ctx, caller, model, u); err != nil {
					t.Fatal(err)
				}
			}
			add("sha256:aa", "m1", Usage{Requests: 1, PromptTokens: 10, Neurons: 0.5})
			add("sha256:aa", "m1", Usage{Requests: 1, CachedRequests: 1})
			add("sha256:aa", "m2", Usage{Requests: 1, Images: 1, Neurons: 0.25})
			add("anonymous", "m1", Usage{Requests: 1, CharactersIn: 7, CharactersOut: 9, CompletionTokens: 3})
			rep, err := led.Report(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]map[string]Usage{
				"sha256:aa": {"m1": {Requests: 2, CachedRequests: 1, PromptTokens: 10, Neurons: 0.5}, "m2": {Requests: 1, Images: 1, Neurons: 0.25}},
				"anonymous": {"m1": {Requests: 1, CharactersIn: 7, CharactersOut: 9, CompletionTokens: 3}},
			}
			for caller, byModel := range want {
				for model, u := range byModel {
					if rep[caller][model] != u {
						t.Errorf("%s %s = %+v, want %+v", caller, model, rep[caller][model], u)
					}
				}
			}
		})
	}
}
