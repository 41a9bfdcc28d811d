package main

import (
	"runtime"
	"syscall"
	"time"
)

// rusageThread is Linux's RUSAGE_THREAD, which package syscall does not name.
const rusageThread = 1

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0 // not Linux: CPU columns read 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPU is the CPU time the calling OS thread has used (Linux).
func threadCPU() time.Duration { return rusage(rusageThread) }

// processCPU is the CPU time of the whole process, every thread included
// (ONNX Runtime's too).
func processCPU() time.Duration { return rusage(syscall.RUSAGE_SELF) }

// onOneThread runs f with its goroutine locked to one OS thread, so that
// threadCPU before and after it measures f alone.
func onOneThread(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f()
}
