package ollamaserver

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// serverProcAttr puts the server in a process group of its own (its runners
// join it) and has the kernel send it SIGTERM if edgeinfer dies first.
// Pdeathsig fires when the spawning OS thread exits; the Go runtime keeps
// its threads, and should one go, the supervisor restarts the server.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// killGroup SIGKILLs every process left in the group led by pid.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// waitGroupGone waits until no process of the group led by pid is left
// (SIGKILLed runners take a moment to be torn down and reaped), up to limit.
func waitGroupGone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if err := syscall.Kill(-pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
