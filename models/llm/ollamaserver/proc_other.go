//go:build !linux

package ollamaserver

import (
	"os"
	"syscall"
	"time"
)

// serverProcAttr leaves the process attributes alone off Linux, where
// edgeinfer's supported setup does not run.
func serverProcAttr() *syscall.SysProcAttr { return nil }

func terminate(p *os.Process) error { return p.Kill() }

func killGroup(int) {}

func waitGroupGone(int, time.Duration) bool { return true }
