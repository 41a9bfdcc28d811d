package ort

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine/home"
)

// selfTestChildMode makes this test binary act as a self-test child: the
// tests below start it with the mode in the environment.
const selfTestChildMode = "EDGEINFER_TEST_SELFTEST_CHILD"

func TestMain(m *testing.M) {
	if id, ok := SelfTestDevice(os.Getenv); ok {
		switch os.Getenv(selfTestChildMode) {
		case "pass":
			os.Exit(0)
		case "fail":
			os.Stderr.WriteString("loading the CUDA provider\ncuda:" + string(rune('0'+id)) + " disagrees with the CPU by 0.5\n")
			os.Exit(1)
		case "crash":
			os.Stderr.WriteString("step: run\n")
			syscall.Kill(os.Getpid(), syscall.SIGSEGV)
			time.Sleep(time.Minute)
		case "hang":
			time.Sleep(time.Minute)
		case "paths":
			// The child must look for the runtime where its parent does.
			// (The library itself is the one the parent loaded, once it has.)
			if p := home.Resolve("", os.Getenv); p.ORTCUDADir != "/parent/lib/cuda" || p.CUDALibs != "/a:/b" {
				fmt.Fprintf(os.Stderr, "the child resolves %+v\n", p)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

// TestSelfTestGuardsTheProcess starts real child processes that pass,
// report a failure, crash on a signal and hang, and checks the verdicts;
// then that a failed device is remembered and another device is tested
// on its own.
func TestSelfTestGuardsTheProcess(t *testing.T) {
	defer func(d time.Duration) { selfTestTimeout = d }(selfTestTimeout)
	selfTestTimeout = 3 * time.Second
	child := func(mode string) func() *exec.Cmd {
		return func() *exec.Cmd {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), selfTestChildMode+"="+mode)
			return cmd
		}
	}
	for _, tc := range []struct{ mode, want string }{
		{"pass", ""},
		{"fail", "cuda:1 disagrees with the CPU by 0.5"},
		{"crash", "segmentation"}, // Go reports "SIGSEGV: segmentation violation" and exits 2, or the process dies of the signal
		{"hang", "did not finish within 3s"},
	} {
		SetSelfTest(child(tc.mode))
		err := checkDevice(1)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.mode, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error mentioning %q", tc.mode, err, tc.want)
		}
	}

	SetSelfTest(child("fail"))
	first := checkDevice(0)
	if first == nil {
		t.Fatal("a failing child passed")
	}
	selfTest.command = child("pass") // keep the results, change the child
	if err := checkDevice(0); err == nil || err.Error() != first.Error() {
		t.Errorf("device 0 was tested again: %v", err)
	}
	if err := checkDevice(2); err != nil {
		t.Errorf("device 2 takes its own test: %v", err)
	}
	SetSelfTest(nil)
	if err := checkDevice(0); err != nil {
		t.Errorf("with no self-test registered: %v", err)
	}
}

// A self-test child starts with SelfTestEnv set to the device.
func TestSelfTestDevice(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if _, ok := SelfTestDevice(get); ok {
		t.Fatal("a normal start is taken for a self-test child")
	}
	env[SelfTestEnv] = "3"
	if id, ok := SelfTestDevice(get); !ok || id != 3 {
		t.Fatalf("SelfTestDevice = %d, %v", id, ok)
	}
}

// The self-test child looks for the runtime where its parent was told to
// (UsePaths), the CUDA library directories included, whatever its
// environment says.
func TestSelfTestChildGetsTheParentsPaths(t *testing.T) {
	saved := paths.Load()
	t.Cleanup(func() { paths.Store(saved); SetSelfTest(nil) })
	t.Setenv(home.HomeEnv, t.TempDir())
	t.Setenv(home.CUDALibsEnv, "/elsewhere")
	UsePaths(home.Paths{Home: "/parent", ORTLib: "/parent/lib/libonnxruntime.so", ORTCUDADir: "/parent/lib/cuda", CUDALibs: "/a:/b"})
	SetSelfTest(func() *exec.Cmd {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), selfTestChildMode+"=paths")
		return cmd
	})
	if err := checkDevice(0); err != nil {
		t.Fatal(err)
	}
}
