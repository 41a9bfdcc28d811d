package ort

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A CUDA stack whose pieces do not fit (a core and providers from different
// builds, a driver too old for the toolkit) does not fail politely: on the
// first H200 the first CUDA Run of BGE died of SIGSEGV, which in a server
// takes every model down. So before the first CUDA session on a device, the
// program runs a small CUDA inference in a child process; a child that
// crashes, hangs or reports a failure makes CUDA unavailable on that device
// with the child's reason, and models fall back to the CPU (or fail to load
// with require_device) while the server stays up.

// SelfTestEnv is set, to the CUDA device id, in the environment of the child
// process; the program's main checks it first and runs its self-test.
const SelfTestEnv = "EDGEINFER_CUDA_SELFTEST"

// selfTestTimeout bounds the child: loading the CUDA libraries and
// compiling kernels takes seconds, a hang must not stall a model load.
var selfTestTimeout = 2 * time.Minute

var selfTest struct {
	sync.Mutex
	command func() *exec.Cmd
	results map[int]error
}

// SetSelfTest registers how to start the child: command returns a command
// that runs the program's self-test (it gets SelfTestEnv added), or nil to
// skip it. Programs that register none run CUDA sessions unguarded.
func SetSelfTest(command func() *exec.Cmd) {
	selfTest.Lock()
	defer selfTest.Unlock()
	selfTest.command, selfTest.results = command, map[int]error{}
}

// SelfTestDevice is the CUDA device id the child should test, from
// SelfTestEnv; ok is false when this process is not a self-test child.
func SelfTestDevice(getenv func(string) string) (id int, ok bool) {
	v := getenv(SelfTestEnv)
	if v == "" {
		return 0, false
	}
	id, err := strconv.Atoi(v)
	return max(id, 0), err == nil
}

// checkDevice runs the self-test for device id once per process and
// returns its verdict; nil when no self-test is registered.
func checkDevice(id int) error {
	selfTest.Lock()
	defer selfTest.Unlock()
	if selfTest.command == nil {
		return nil
	}
	if err, done := selfTest.results[id]; done {
		return err
	}
	var err error
	if cmd := selfTest.command(); cmd != nil {
		err = runSelfTest(cmd, id)
	}
	selfTest.results[id] = err
	return err
}

// runSelfTest runs cmd as the self-test child for device id.
func runSelfTest(cmd *exec.Cmd, id int) error {
	ctx, cancel := context.WithTimeout(context.Background(), selfTestTimeout)
	defer cancel()
	child := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	// The child loads the runtime this process resolved (--home reaches it
	// through these, as the child gets no flags of its own).
	child.Env = append(cmd.Environ(), SelfTestEnv+"="+strconv.Itoa(id), LibEnv+"="+LibraryPath(), CUDADirEnv+"="+CUDADir(),
		CUDALibsEnv+"="+runtimePaths().CUDALibs)
	var out bytes.Buffer
	child.Stdout, child.Stderr = &out, &out
	err := child.Run()
	if err == nil {
		return nil
	}
	why := lastLine(out.String())
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("the CUDA self-test did not finish within %s", selfTestTimeout)
	case errors.As(err, &exit) && why != "":
		return fmt.Errorf("the CUDA self-test failed (%s): %s", exit.ProcessState, why)
	default:
		return fmt.Errorf("the CUDA self-test failed: %w", err)
	}
}

// lastLine is the last non-empty line of a child's output, where Go's
// crash report starts ("SIGSEGV: segmentation violation" precedes the
// goroutine dump, so prefer a line naming a signal or a failure).
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "SIG") || strings.HasPrefix(l, "fatal error") || strings.HasPrefix(l, "panic") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}
