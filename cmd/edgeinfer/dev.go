package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edgeinfer/edgeinfer/engine/devworker"
	"github.com/spf13/cobra"
)

// devAccountID is the account ID wrangler is given: edgeinfer accepts any.
const devAccountID = "edgeinfer0000000000000000000000"

func newDevCmd(g *globalFlags) *cobra.Command {
	var engineURL, addr, token string
	cmd := &cobra.Command{
		Use:   "dev [-- command...]",
		Short: "Run your Workers dev command (wrangler, vite, vitest) with env.AI served by edgeinfer",
		Long: `Run a Workers project's dev command with its AI binding served by edgeinfer,
offline and without a Cloudflare login:

  edgeinfer dev                        # npx wrangler dev
  edgeinfer dev -- npx wrangler dev --port 8788
  edgeinfer dev -- npm run dev         # a package.json script that runs wrangler or vite
  edgeinfer dev -- npx vitest run

It uses the edgeinfer at --engine (default $EDGEINFER_URL, else the configured
address when something answers there) or starts one and stops it afterwards.

wrangler 4 (and the Vite plugin and vitest-pool-workers) serve env.AI as a
remote binding that needs a Cloudflare account. edgeinfer dev writes a derived
wrangler config beside yours, .edgeinfer-dev.<name>.json, in which the AI
binding is a service binding to edgeinfer's local AI worker, and runs
` + "`wrangler dev -c <derived> -c <AI worker>`" + `. Your wrangler.toml/jsonc and your
Worker's code stay as they are; the derived file is removed on exit.

wrangler 3 forwards env.AI to the Cloudflare API base, which edgeinfer serves:
edgeinfer dev only sets CLOUDFLARE_API_BASE_URL, CLOUDFLARE_ACCOUNT_ID and
CLOUDFLARE_API_TOKEN.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"npx", "wrangler", "dev"}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("addr") {
				addr = envOr("EDGEINFER_ADDR", cfg.Server.Addr)
			}
			code, err := runDev(cmd.Context(), g, devOptions{
				args: args, engineURL: engineURL, addr: addr, token: token,
				stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr(),
			})
			if err != nil {
				return err
			}
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&engineURL, "engine", os.Getenv("EDGEINFER_URL"), "a running edgeinfer's URL [EDGEINFER_URL]")
	cmd.Flags().StringVar(&addr, "addr", "", "where to start edgeinfer when none is running (default: server.addr) [EDGEINFER_ADDR]")
	cmd.Flags().StringVar(&token, "api-token", os.Getenv("EDGEINFER_API_TOKEN"), "edgeinfer's API token, if it requires one [EDGEINFER_API_TOKEN]")
	return cmd
}

type devOptions struct {
	args           []string
	engineURL      string
	addr           string
	token          string
	stdout, stderr io.Writer
}

// runDev prepares the environment, runs the command and cleans up; it
// returns the command's exit code.
func runDev(ctx context.Context, g *globalFlags, o devOptions) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	say := func(format string, a ...any) { fmt.Fprintf(o.stderr, "edgeinfer dev: "+format+"\n", a...) }
	dir, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	tool := detectDevTool(o.args, dir)
	if tool.Name != "" && !tool.Tested() {
		version := tool.Version
		if version == "" {
			version = "(version unknown: not found under node_modules)"
		}
		say("warning: %s %s has not been tested with edgeinfer (tested: %s)", tool.Name, version, strings.Join(testedToolVersions[tool.Name], ", "))
	}

	engineURL, stopEngine, err := ensureEngine(ctx, g, o.engineURL, o.addr, say)
	if err != nil {
		return 0, err
	}
	defer stopEngine()

	args := o.args
	extraEnv := toolEnvironment(tool, os.LookupEnv)
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	if tool.Name == "wrangler" && (tool.Major() == "3" || tool.Major() == "4") && fullVersion(tool.Version) {
		seedWranglerUpdateCheck(tool.Version, time.Now())
	}
	// wrangler 3 forwards env.AI to the API base; vitest-pool-workers takes
	// miniflare's own ai option, pointed at $EDGEINFER_URL in vitest.config
	// (README): neither needs the AI worker.
	if !(tool.Name == "wrangler" && tool.Major() == "3") && tool.Name != "vitest" {
		// wrangler 4, the Vite plugin and vitest-pool-workers: bind AI to the local AI worker.
		derived, workerConfig, cleanup, err := prepareAIWorker(o.args, dir, engineURL, o.token, tool.Name == "wrangler")
		if err != nil {
			return 0, err
		}
		cleanups = append(cleanups, cleanup)
		switch {
		case derived == "":
		case tool.Name == "wrangler":
			_, rest := wranglerConfigArg(o.args)
			args = withWranglerConfigs(rest, derived, workerConfig)
			say("AI binding → edgeinfer at %s (wrangler config %s + %s)", engineURL, filepath.Base(derived), workerConfig)
		default:
			// The Vite plugin, vitest-pool-workers, getPlatformProxy: the AI
			// worker runs in a wrangler dev of its own, which their sessions
			// reach through wrangler's dev registry; the derived config is
			// handed over by variable (the Vite plugin reads its own).
			stop, err := startAIWorkerSession(ctx, dir, workerConfig, engineURL, o.token, say)
			if err != nil {
				return 0, err
			}
			cleanups = append(cleanups, stop)
			extraEnv = append(extraEnv, "EDGEINFER_WRANGLER_CONFIG="+derived)
			if os.Getenv("CLOUDFLARE_VITE_WRANGLER_CONFIG_PATH") == "" {
				extraEnv = append(extraEnv, "CLOUDFLARE_VITE_WRANGLER_CONFIG_PATH="+derived)
			}
			say("AI binding → edgeinfer at %s (wrangler config %s, AI worker in its own wrangler dev session)", engineURL, filepath.Base(derived))
		}
	}

	c := exec.CommandContext(ctx, args[0], args[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, o.stdout, o.stderr
	c.Env = append(devEnvironment(os.Environ(), engineURL, o.token), extraEnv...)
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	c.WaitDelay = 10 * time.Second
	if err := c.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", args[0], err)
	}
	// Ctrl-C reaches the command through the terminal's process group; a
	// SIGTERM sent to edgeinfer dev alone is passed on.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			if s == syscall.SIGTERM {
				_ = c.Process.Signal(s)
			}
		}
	}()
	err = c.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if code := exit.ExitCode(); code >= 0 {
			return code, nil
		}
		return 1, nil // ended by a signal
	}
	return 0, err
}

// prepareAIWorker writes the AI worker into a temporary folder and, when the
// project's wrangler config declares an AI binding, the derived config
// beside it. It returns their paths ("" for the derived one when the config
// has no AI binding) and a cleanup that removes both.
func prepareAIWorker(args []string, dir, engineURL, token string, sameSession bool) (derived, workerConfig string, cleanup func(), err error) {
	userConfig, _ := wranglerConfigArg(args)
	if userConfig == "" {
		if userConfig, err = devworker.FindConfig(dir); err != nil {
			return "", "", func() {}, nil // nothing to derive: run the command as it is
		}
	} else if !filepath.IsAbs(userConfig) {
		userConfig = filepath.Join(dir, userConfig)
	}
	cfg, err := devworker.ReadConfig(userConfig)
	if err != nil {
		return "", "", nil, err
	}
	tmp, err := os.MkdirTemp("", "edgeinfer-dev-")
	if err != nil {
		return "", "", nil, err
	}
	cleanup = func() { _ = os.RemoveAll(tmp) }
	date, flags := cfg.DevWorkerCompatibility()
	workerConfig, err = devworker.WriteWorker(filepath.Join(tmp, "ai-worker"), devworker.WorkerOptions{
		// Across sessions a call passes wrangler's dev-registry proxy, which
		// folds an error's name into its message: plain Errors keep the message.
		EngineURL: engineURL, APIToken: token, ErrorNames: sameSession && cfg.ErrorNames(wranglerRuntimeDate(args, dir)),
		CompatibilityDate: date, CompatibilityFlags: flags,
	})
	if err != nil || cfg.AIBinding() == "" {
		return "", workerConfig, cleanup, err
	}
	if derived, err = cfg.WriteDerived(); err != nil {
		return "", "", cleanup, err
	}
	removeTmp := cleanup
	cleanup = func() {
		_ = os.Remove(derived)
		removeTmp()
	}
	return derived, workerConfig, cleanup, nil
}

// devEnvironment returns env with what every tool needs to reach edgeinfer
// and nothing else: the Cloudflare API base (wrangler 3's AI proxy, and an
// answer for any other API call instead of the internet), an account ID and
// a token so no login is asked for, and no telemetry or Request.cf download.
func devEnvironment(env []string, engineURL, token string) []string {
	if token == "" {
		token = "edgeinfer-local" // edgeinfer without --api-token accepts any
	}
	set := map[string]string{
		"EDGEINFER_URL":               engineURL,
		"CLOUDFLARE_API_BASE_URL":     strings.TrimSuffix(engineURL, "/") + "/client/v4",
		"CLOUDFLARE_ACCOUNT_ID":       devAccountID,
		"CLOUDFLARE_API_TOKEN":        token,
		"WRANGLER_SEND_METRICS":       "false",
		"CLOUDFLARE_CF_FETCH_ENABLED": "false",
	}
	out := make([]string, 0, len(env)+len(set))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; ok || k == "CLOUDFLARE_API_KEY" || k == "CLOUDFLARE_EMAIL" {
			continue // a global API key would win over the token
		}
		out = append(out, kv)
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

var listeningRE = regexp.MustCompile(`msg="edgeinfer listening" addr=([0-9.:\[\]a-f]+)`)

// ensureEngine returns a running edgeinfer's URL: explicit, or one answering
// at addr, or one it starts at addr (stopped by the returned func).
func ensureEngine(ctx context.Context, g *globalFlags, explicit, addr string, say func(string, ...any)) (string, func(), error) {
	noop := func() {}
	if explicit != "" {
		u := strings.TrimSuffix(explicit, "/")
		if !healthy(u) {
			return "", noop, fmt.Errorf("no edgeinfer answers at %s (from --engine / EDGEINFER_URL)", u)
		}
		return u, noop, nil
	}
	if u := "http://" + addr; healthy(u) {
		say("using the edgeinfer running at %s", u)
		return u, noop, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", noop, err
	}
	logFile, err := os.CreateTemp("", "edgeinfer-dev-*.log")
	if err != nil {
		return "", noop, err
	}
	args := []string{"serve", "--addr", addr}
	if g.configPath != "" {
		args = append(args, "--config", g.configPath)
	}
	if g.home != "" {
		args = append(args, "--home", g.home)
	}
	srv := exec.Command(exe, args...)
	pr, pw := io.Pipe()
	srv.Stdout, srv.Stderr = logFile, io.MultiWriter(logFile, pw)
	if err := srv.Start(); err != nil {
		return "", noop, err
	}
	exited := make(chan struct{})
	go func() { _ = srv.Wait(); close(exited) }()
	stop := func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
		_ = logFile.Close()
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr) // keep the pipe drained
	}()
	go func() { <-exited; _ = pw.Close() }()
	select {
	case a := <-found:
		u := "http://" + a
		deadline := time.Now().Add(60 * time.Second)
		for !ready(u) {
			if time.Now().After(deadline) {
				stop()
				return "", noop, fmt.Errorf("edgeinfer at %s was not ready within 60 s (log: %s)", u, logFile.Name())
			}
			time.Sleep(200 * time.Millisecond)
		}
		say("started edgeinfer at %s (log: %s)", u, logFile.Name())
		return u, stop, nil
	case <-exited:
		return "", noop, fmt.Errorf("edgeinfer serve exited during startup (log: %s)", logFile.Name())
	case <-time.After(60 * time.Second):
		stop()
		return "", noop, fmt.Errorf("edgeinfer serve did not start within 60 s (log: %s)", logFile.Name())
	case <-ctx.Done():
		stop()
		return "", noop, ctx.Err()
	}
}

func healthy(base string) bool { return get(base + "/healthz") }
func ready(base string) bool   { return get(base + "/readyz") }

func get(url string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// seedWranglerUpdateCheck keeps wrangler 4's banner from asking
// registry.npmjs.org for a newer version (offline, that request would leave
// the machine and fail): unless wrangler's own cache of the answer is fresh,
// it records the installed version as the latest, checked now. wrangler keeps
// that cache for an hour at $TMPDIR/update-check/wrangler-latest.json.
func seedWranglerUpdateCheck(installed string, now time.Time) {
	path := filepath.Join(os.TempDir(), "update-check", "wrangler-latest.json")
	var cached struct {
		LastUpdate int64 `json:"lastUpdate"`
	}
	if data, err := os.ReadFile(path); err == nil && json.Unmarshal(data, &cached) == nil &&
		now.Sub(time.UnixMilli(cached.LastUpdate)) < 50*time.Minute {
		return
	}
	data, _ := json.Marshal(map[string]any{"latest": installed, "lastUpdate": now.UnixMilli()})
	if os.MkdirAll(filepath.Dir(path), 0o755) == nil {
		_ = os.WriteFile(path, data, 0o644)
	}
}

// startAIWorkerSession runs the AI worker in a `wrangler dev` of its own,
// with the project's wrangler, and returns what stops it. Sessions of the
// Vite plugin, vitest-pool-workers and getPlatformProxy find it through
// wrangler's dev registry by its name.
func startAIWorkerSession(ctx context.Context, dir, workerConfig, engineURL, token string, say func(string, ...any)) (func(), error) {
	wrangler, ok := findUp(dir, filepath.Join("node_modules", ".bin", "wrangler"))
	if !ok {
		return nil, fmt.Errorf("the AI worker runs under your project's wrangler, and none is installed under %s (npm install --save-dev wrangler)", dir)
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	inspector, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(filepath.Dir(workerConfig), "wrangler-dev.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	c := exec.Command(wrangler, "dev", "-c", workerConfig, "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--inspector-port", strconv.Itoa(inspector), "--show-interactive-dev-session=false")
	c.Dir = filepath.Dir(workerConfig)
	c.Env = devEnvironment(os.Environ(), engineURL, token)
	c.Stdout, c.Stderr = logFile, logFile
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stop wrangler and its workerd together
	if err := c.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = c.Wait(); close(exited) }()
	stop := func() {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL) // whatever outlived wrangler
		_ = logFile.Close()
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(90 * time.Second)
	for !get(url) {
		select {
		case <-exited:
			stop()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("the AI worker's wrangler dev exited:\n%s", log)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("the AI worker's wrangler dev did not answer within 90 s (log: %s)", logPath)
		}
	}
	say("AI worker %s ready at %s (log: %s)", devworker.WorkerName, url, logPath)
	return stop, nil
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
