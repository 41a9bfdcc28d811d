package ollamaserver

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Restart backoff: the first restart waits minBackoff, each quick death
// doubles the wait up to maxBackoff, and a process that stayed up for
// stableAfter resets it.
const (
	minBackoff  = 250 * time.Millisecond
	maxBackoff  = 30 * time.Second
	stableAfter = time.Minute
	tailLines   = 30
)

// nextBackoff is the wait before restarting a process that ran for uptime,
// given the previous wait.
func nextBackoff(prev, uptime time.Duration) time.Duration {
	if prev == 0 || uptime >= stableAfter {
		return minBackoff
	}
	return min(2*prev, maxBackoff)
}

// supervisor runs `ollama serve` and restarts it whenever it dies until
// stop is called. The server runs in its own process group, so the llama.cpp
// runners it spawns are killed with it instead of outliving it.
type supervisor struct {
	bin string
	env []string
	log *slog.Logger

	stopCh chan struct{} // closed by stop
	done   chan struct{} // closed when the supervise loop returns

	mu       sync.Mutex
	cmd      *exec.Cmd     // the current process; nil between runs
	started  time.Time     // when the latest process started
	exitedCh chan struct{} // closed when the latest process and its group are gone
	exits    int
	restarts int
	tail     []string // the last log lines, for start-up errors
	stopOnce sync.Once
}

func newSupervisor(bin string, env []string, log *slog.Logger) *supervisor {
	return &supervisor{bin: bin, env: env, log: log, stopCh: make(chan struct{}), done: make(chan struct{})}
}

// start launches the first process and the loop that restarts it.
func (s *supervisor) start() error {
	if err := s.spawn(); err != nil {
		close(s.done)
		return err
	}
	go s.loop()
	return nil
}

func (s *supervisor) loop() {
	defer close(s.done)
	var backoff time.Duration
	for {
		s.mu.Lock()
		exited, started := s.exitedCh, s.started
		s.mu.Unlock()
		select {
		case <-s.stopCh:
			return
		case <-exited:
		}
		backoff = nextBackoff(backoff, time.Since(started))
		s.log.Warn("ollama: server exited; restarting", "after", backoff)
		for {
			select {
			case <-s.stopCh:
				return
			case <-time.After(backoff):
			}
			err := s.spawn()
			if err == nil {
				break
			}
			backoff = nextBackoff(backoff, 0)
			s.log.Error("ollama: restart failed", "err", err, "retry_after", backoff)
		}
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
	}
}

// spawn starts one server process with its output forwarded to the log.
func (s *supervisor) spawn() error {
	// One pipe for stdout and stderr, handed to the child as a file: exec
	// then starts no copying goroutines, so Wait returns when the server
	// exits even if an orphaned runner still holds the write end.
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = serverProcAttr()
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("ollama: start %s serve: %w", s.bin, err)
	}
	w.Close()

	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.started, s.exitedCh = cmd, time.Now(), exited
	s.mu.Unlock()
	s.log.Info("ollama: server started", "pid", cmd.Process.Pid)

	logged := make(chan struct{})
	go func() {
		defer close(logged)
		s.forward(r)
	}()
	go func() {
		err := cmd.Wait()
		// Runners left behind by a killed server would hold memory and the
		// log pipe; they share the server's process group.
		killGroup(cmd.Process.Pid)
		if !waitGroupGone(cmd.Process.Pid, 5*time.Second) {
			s.log.Warn("ollama: processes of the server's group outlived it", "pgid", cmd.Process.Pid)
		}
		<-logged
		r.Close()
		s.mu.Lock()
		s.exits++
		s.cmd = nil
		s.mu.Unlock()
		s.log.Info("ollama: server exited", "pid", cmd.Process.Pid, "status", exitStatus(err))
		close(exited)
	}()
	return nil
}

// forward copies the server's log lines to the logger and keeps a tail.
func (s *supervisor) forward(r *os.File) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		s.log.Info("ollama: " + line)
		s.mu.Lock()
		s.tail = append(s.tail, line)
		if len(s.tail) > tailLines {
			s.tail = s.tail[len(s.tail)-tailLines:]
		}
		s.mu.Unlock()
	}
}

// stop ends supervision, asks the server to shut down (SIGTERM), kills its
// process group after grace, and waits until everything has exited.
func (s *supervisor) stop(grace time.Duration) error {
	s.stopOnce.Do(func() { close(s.stopCh) })
	<-s.done
	s.mu.Lock()
	cmd, exited := s.cmd, s.exitedCh
	s.mu.Unlock()
	if cmd == nil {
		<-exited
		return nil
	}
	if err := terminate(cmd.Process); err != nil {
		s.log.Warn("ollama: SIGTERM failed", "err", err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(grace):
	}
	s.log.Warn("ollama: server ignored SIGTERM; killing it", "pid", cmd.Process.Pid)
	killGroup(cmd.Process.Pid)
	<-exited
	return nil
}

func (s *supervisor) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *supervisor) exitCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exits
}

func (s *supervisor) restartCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

func (s *supervisor) logTail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.tail, "\n")
}

func exitStatus(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}
