package pull_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/models/pull"
	"github.com/edgeinfer/edgeinfer/models/pull/pulltest"
)

// Faults of the network, the server and the catalog, and how a pull
// survives or refuses them.

func TestInterruptedTransferResumes(t *testing.T) {
	h, files := newHub(t)
	const cut = 1 << 20
	h.SetFault(weights, pulltest.Fault{CutAfter: cut, Cuts: 1})
	dir := filepath.Join(t.TempDir(), "model")
	req := request(t, dir, "")
	p := newPuller(h)

	_, err := p.Pull(pullCtx(t), req)
	if err == nil || !strings.Contains(err.Error(), weights) || !strings.Contains(err.Error(), "resume") {
		t.Fatalf("interrupted pull: %v", err)
	}
	info, statErr := os.Stat(filepath.Join(dir, weights+".incomplete"))
	if statErr != nil || info.Size() != cut {
		t.Fatalf("partial file after the cut: %v, %v", info, statErr)
	}
	// Nothing is installed until every file is verified.
	for _, f := range req.Files {
		if exists(filepath.Join(dir, f)) {
			t.Fatalf("%s installed by a failed pull", f)
		}
	}

	h.Requests()
	if _, err := p.Pull(pullCtx(t), req); err != nil {
		t.Fatal(err)
	}
	gets := cdnGets(h.Requests())
	if len(gets) != 1 || gets[0].Range != "bytes=1048576-" {
		t.Fatalf("resume sent %+v, want one request for bytes=1048576-", gets)
	}
	assertInstalled(t, req, files)
}

func TestRetriesResumeWithinOnePull(t *testing.T) {
	h, files := newHub(t)
	h.SetFault(weights, pulltest.Fault{CutAfter: 1 << 20, Cuts: 2})
	dir := filepath.Join(t.TempDir(), "model")
	req := request(t, dir, "")
	p := newPuller(h)
	p.Retries = 3
	var log bytes.Buffer
	display := pull.NewDisplay(&log, false, time.Hour)
	p.Progress = display
	_, err := p.Pull(pullCtx(t), req)
	display.Close()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), weights+": retrying in "); n != 2 {
		t.Fatalf("progress shows %d retries, want 2:\n%s", n, log.String())
	}
	var ranges []string
	for _, g := range cdnGets(h.Requests()) {
		ranges = append(ranges, g.Range)
	}
	if want := []string{"", "bytes=1048576-", "bytes=2097152-"}; !slices.Equal(ranges, want) {
		t.Fatalf("ranges asked %q, want %q", ranges, want)
	}
	assertInstalled(t, req, files)
}

// A server that ignores Range sends the whole file; what was on disk must
// not be kept in front of it.
func TestServerIgnoringRangeStartsOver(t *testing.T) {
	h, files := newHub(t)
	h.SetFault(weights, pulltest.Fault{IgnoreRange: true})
	dir := filepath.Join(t.TempDir(), "model")
	req := request(t, dir, "")
	if err := os.MkdirAll(filepath.Join(dir, "onnx"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, weights+".incomplete"), bytes.Repeat([]byte{0xAA}, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newPuller(h).Pull(pullCtx(t), req); err != nil {
		t.Fatal(err)
	}
	if gets := cdnGets(h.Requests()); len(gets) != 1 || gets[0].Range != "bytes=1000-" {
		t.Fatalf("downloads %+v", gets)
	}
	assertInstalled(t, req, files)
}

func TestHashMismatchIsRejected(t *testing.T) {
	h, _ := newHub(t)
	h.SetFault(weights, pulltest.Fault{Corrupt: true})
	dir := filepath.Join(t.TempDir(), "model")
	req := request(t, dir, "")
	p := newPuller(h)
	p.Retries = 2
	_, err := p.Pull(pullCtx(t), req)
	if !errors.Is(err, pull.ErrVerify) || !strings.Contains(err.Error(), weights) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("corrupt download: %v", err)
	}
	if exists(filepath.Join(dir, weights)) || exists(filepath.Join(dir, weights+".incomplete")) || exists(filepath.Join(dir, "config.json")) {
		t.Fatal("a corrupt download left files behind")
	}
	if n := len(cdnGets(h.Requests())); n != 1 {
		t.Fatalf("corrupt bytes were fetched %d times; a hash mismatch is not retried", n)
	}
}

func TestMissingFileFailsBeforeWriting(t *testing.T) {
	h, _ := newHub(t)
	dir := filepath.Join(t.TempDir(), "model")
	// The synthetic set, and so this hub, has no fp16 weights.
	_, err := newPuller(h).Pull(pullCtx(t), request(t, dir, "fp16"))
	if !errors.Is(err, pull.ErrNotFound) || !strings.Contains(err.Error(), "onnx/model_fp16.onnx") {
		t.Fatalf("missing file: %v", err)
	}
	if exists(dir) {
		t.Fatal("a pull that failed on a missing file wrote to the model directory")
	}
}

func TestUnknownRepository(t *testing.T) {
	h, _ := newHub(t)
	req := request(t, filepath.Join(t.TempDir(), "model"), "")
	req.Repo = "Xenova/no-such-model"
	_, err := newPuller(h).Pull(pullCtx(t), req)
	if !errors.Is(err, pull.ErrUnauthorized) || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Fatalf("unknown repository: %v", err)
	}
}

func TestRenamedRepositoryIsFollowed(t *testing.T) {
	h, files := newHub(t)
	h.Alias("Xenova/bge-small-old-name")
	req := request(t, filepath.Join(t.TempDir(), "model"), "")
	req.Repo = "Xenova/bge-small-old-name"
	if _, err := newPuller(h).Pull(pullCtx(t), req); err != nil {
		t.Fatal(err)
	}
	assertInstalled(t, req, files)
}

// A slow server cannot hold a pull past its deadline, and what arrived is
// kept for the next pull.
func TestSlowServerDeadline(t *testing.T) {
	h, files := newHub(t)
	h.SetFault(weights, pulltest.Fault{Stall: true, CutAfter: 64 << 10})
	dir := filepath.Join(t.TempDir(), "model")
	req := request(t, dir, "")
	p := newPuller(h)
	p.Retries = 3
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := p.Pull(ctx, req)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), weights) {
		t.Fatalf("pull past its deadline: %v", err)
	}
	info, statErr := os.Stat(filepath.Join(dir, weights+".incomplete"))
	if statErr != nil || info.Size() == 0 {
		t.Fatalf("partial after the deadline: %v, %v", info, statErr)
	}

	h.SetFault(weights, pulltest.Fault{})
	h.Requests()
	if _, err := p.Pull(pullCtx(t), req); err != nil {
		t.Fatal(err)
	}
	if gets := cdnGets(h.Requests()); len(gets) != 1 || gets[0].Range == "" {
		t.Fatalf("the pull after the deadline did not resume: %+v", gets)
	}
	assertInstalled(t, req, files)
}

func TestStalledTransferIsAbandoned(t *testing.T) {
	h, _ := newHub(t)
	h.SetFault(weights, pulltest.Fault{Stall: true, CutAfter: 64 << 10})
	dir := filepath.Join(t.TempDir(), "model")
	p := newPuller(h)
	p.StallTimeout = 200 * time.Millisecond
	_, err := p.Pull(pullCtx(t), request(t, dir, ""))
	if err == nil || !strings.Contains(err.Error(), "no data received") || !exists(filepath.Join(dir, weights+".incomplete")) {
		t.Fatalf("stalled transfer: %v", err)
	}
}

func TestPathsEscapingTheModelDirectoryAreRefused(t *testing.T) {
	h, _ := newHub(t)
	for _, files := range [][]string{
		{"config.json", "../x"},
		{"/etc/passwd"},
		{"onnx/../../x"},
		{"onnx/./model.onnx"},
		{`..\..\x`},
		{""},
		{pull.ManifestName},
		{"config.json", "config.json"},
	} {
		dir := filepath.Join(t.TempDir(), "model")
		req := pull.Request{Repo: repo, Dir: dir, Files: files}
		if _, err := newPuller(h).Pull(pullCtx(t), req); err == nil {
			t.Errorf("files %q: pull accepted", files)
		}
		if exists(dir) {
			t.Errorf("files %q: the model directory was written", files)
		}
	}
	if reqs := h.Requests(); len(reqs) != 0 {
		t.Fatalf("refused pulls still asked the hub: %+v", reqs)
	}

	s := spec(t, t.TempDir())
	entry := *s.Entry
	entry.Artifacts.Variants = map[string][]string{"fp32": {"../../../etc/cron.d/x"}}
	s.Entry = &entry
	if _, err := pull.ForModel(s, "fp32"); err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Fatalf("catalog entry with ../ path: %v", err)
	}
}

func TestConcurrentPullsOfOneModelAreRefused(t *testing.T) {
	h, _ := newHub(t)
	h.SetFault(weights, pulltest.Fault{Stall: true, CutAfter: 64 << 10})
	dir := filepath.Join(t.TempDir(), "model")
	req := request(t, dir, "")
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := newPuller(h).Pull(ctx, req)
		first <- err
	}()
	// The first pull holds the lock once its weights start arriving.
	deadline := time.Now().Add(30 * time.Second)
	for !exists(filepath.Join(dir, weights+".incomplete")) {
		if time.Now().After(deadline) {
			t.Fatal("the first pull never started downloading")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := newPuller(h).Pull(pullCtx(t), req)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "another pull") {
		t.Fatalf("second pull while the first runs: %v", err)
	}
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first pull: %v", err)
	}
}
