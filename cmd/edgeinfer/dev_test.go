package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func writePackage(t *testing.T, dir, name, version string) {
	t.Helper()
	d := filepath.Join(dir, "node_modules", name)
	if err := os.MkdirAll(filepath.Join(d, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]string{"name": name, "version": version})
	if err := os.WriteFile(filepath.Join(d, "package.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDetectDevTool(t *testing.T) {
	project := t.TempDir()
	writePackage(t, project, "wrangler", "4.164.0")
	writePackage(t, project, "vite", "7.0.0")
	scripts, _ := json.Marshal(map[string]any{"scripts": map[string]string{"dev": "wrangler dev --port 8788", "start": "vite", "test": "vitest run"}})
	if err := os.WriteFile(filepath.Join(project, "package.json"), scripts, 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(project, "src")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// A binary named by path: its own package decides the version.
	other := t.TempDir()
	writePackage(t, other, "wrangler", "3.114.17")
	wranglerJS := filepath.Join(other, "node_modules", "wrangler", "bin", "wrangler.js")
	if err := os.WriteFile(wranglerJS, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(other, "node_modules", ".bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(other, "node_modules", ".bin", "wrangler")
	if err := os.Symlink("../wrangler/bin/wrangler.js", link); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		args   []string
		dir    string
		want   devTool
		tested bool
	}{
		{[]string{"npx", "wrangler", "dev"}, project, devTool{"wrangler", "4.164.0"}, true},
		{[]string{"wrangler", "dev"}, sub, devTool{"wrangler", "4.164.0"}, true},
		{[]string{"npx", "wrangler@4", "dev"}, project, devTool{"wrangler", "4.164.0"}, true},
		{[]string{"npx", "wrangler@4.164.0", "dev"}, project, devTool{"wrangler", "4.164.0"}, true},
		{[]string{"npx", "wrangler@3", "dev"}, project, devTool{"wrangler", "3"}, false},
		{[]string{"npx", "wrangler@3.114.17", "dev"}, project, devTool{"wrangler", "3.114.17"}, true},
		{[]string{"npx", "wrangler@latest", "dev"}, project, devTool{"wrangler", "4.164.0"}, true},
		{[]string{"npm", "run", "dev"}, project, devTool{"wrangler", "4.164.0"}, true},
		{[]string{"pnpm", "start"}, project, devTool{"vite", "7.0.0"}, false},
		{[]string{"npm", "test"}, project, devTool{"vitest", ""}, false},
		{[]string{link, "dev"}, project, devTool{"wrangler", "3.114.17"}, true},
		{[]string{"node", "server.js"}, project, devTool{}, false},
		{[]string{"npm", "run", "missing"}, project, devTool{}, false},
	} {
		got := detectDevTool(tc.args, tc.dir)
		if got != tc.want || got.Tested() != tc.tested {
			t.Errorf("%v: got %+v (tested %v), want %+v (tested %v)", tc.args, got, got.Tested(), tc.want, tc.tested)
		}
	}
}

func TestWranglerConfigArgs(t *testing.T) {
	for _, tc := range []struct {
		in         []string
		wantConfig string
		wantRest   []string
	}{
		{[]string{"npx", "wrangler", "dev", "-c", "a.toml", "--port", "1"}, "a.toml", []string{"npx", "wrangler", "dev", "--port", "1"}},
		{[]string{"wrangler", "dev", "--config=b.jsonc"}, "b.jsonc", []string{"wrangler", "dev"}},
		{[]string{"wrangler", "dev", "--config", "c.json"}, "c.json", []string{"wrangler", "dev"}},
		{[]string{"wrangler", "dev"}, "", []string{"wrangler", "dev"}},
	} {
		config, rest := wranglerConfigArg(tc.in)
		if config != tc.wantConfig || !reflect.DeepEqual(rest, tc.wantRest) {
			t.Errorf("%v: got %q %v", tc.in, config, rest)
		}
	}
	for _, tc := range []struct{ in, want []string }{
		{[]string{"npx", "wrangler", "dev", "--port", "1"}, []string{"npx", "wrangler", "dev", "-c", "D", "-c", "W", "--port", "1"}},
		{[]string{"npm", "run", "dev"}, []string{"npm", "run", "dev", "--", "-c", "D", "-c", "W"}},
		{[]string{"npm", "run", "dev", "--", "--port", "1"}, []string{"npm", "run", "dev", "--", "--port", "1", "-c", "D", "-c", "W"}},
		{[]string{"/x/node_modules/.bin/wrangler", "dev"}, []string{"/x/node_modules/.bin/wrangler", "dev", "-c", "D", "-c", "W"}},
	} {
		if got := withWranglerConfigs(tc.in, "D", "W"); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: got %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestDevEnvironment(t *testing.T) {
	env := devEnvironment([]string{
		"PATH=/bin", "CLOUDFLARE_API_TOKEN=real-secret", "CLOUDFLARE_API_KEY=global", "CLOUDFLARE_EMAIL=me@example.com",
		"CLOUDFLARE_API_BASE_URL=https://api.cloudflare.com/client/v4",
	}, "http://127.0.0.1:9999", "")
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := got[k]; dup {
			t.Errorf("%s set twice", k)
		}
		got[k] = v
	}
	want := map[string]string{
		"PATH":                        "/bin",
		"EDGEINFER_URL":               "http://127.0.0.1:9999",
		"CLOUDFLARE_API_BASE_URL":     "http://127.0.0.1:9999/client/v4",
		"CLOUDFLARE_ACCOUNT_ID":       devAccountID,
		"CLOUDFLARE_API_TOKEN":        "edgeinfer-local",
		"WRANGLER_SEND_METRICS":       "false",
		"CLOUDFLARE_CF_FETCH_ENABLED": "false",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("env = %v\nwant %v", got, want)
	}
	if env := devEnvironment(nil, "http://e", "tok"); !slices.Contains(env, "CLOUDFLARE_API_TOKEN=tok") {
		t.Errorf("edgeinfer's token not passed on: %v", env)
	}
}

func TestToolEnvironment(t *testing.T) {
	unset := func(string) (string, bool) { return "", false }
	set := func(k string) (string, bool) { return "production", k == "NODE_ENV" }
	for _, tc := range []struct {
		tool   devTool
		lookup func(string) (string, bool)
		want   []string
	}{
		{devTool{"wrangler", "3.114.17"}, unset, []string{"NODE_ENV=test"}},
		{devTool{"wrangler", "3"}, unset, []string{"NODE_ENV=test"}},
		{devTool{"wrangler", "3.114.17"}, set, nil}, // the user's NODE_ENV wins
		{devTool{"wrangler", "4.164.0"}, unset, nil},
		{devTool{"vite", "8.4.1"}, unset, nil},
	} {
		if got := toolEnvironment(tc.tool, tc.lookup); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.tool, got, tc.want)
		}
	}
}

func TestSeedWranglerUpdateCheck(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	path := filepath.Join(os.TempDir(), "update-check", "wrangler-latest.json")
	read := func() (c struct {
		Latest     string `json:"latest"`
		LastUpdate int64  `json:"lastUpdate"`
	}) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	now := time.UnixMilli(1_800_000_000_000)
	seedWranglerUpdateCheck("4.164.0", now)
	if c := read(); c.Latest != "4.164.0" || c.LastUpdate != now.UnixMilli() {
		t.Errorf("seeded %+v", c)
	}
	// wrangler's own fresh answer is kept; a stale one is replaced.
	seedWranglerUpdateCheck("4.0.0", now.Add(10*time.Minute))
	if c := read(); c.Latest != "4.164.0" {
		t.Errorf("fresh cache overwritten: %+v", c)
	}
	seedWranglerUpdateCheck("4.0.0", now.Add(2*time.Hour))
	if c := read(); c.Latest != "4.0.0" {
		t.Errorf("stale cache kept: %+v", c)
	}
}

func TestWranglerRuntimeDate(t *testing.T) {
	// workerd beside wrangler (npm's flat layout).
	project := t.TempDir()
	writePackage(t, project, "wrangler", "4.164.0")
	writePackage(t, project, "workerd", "1.20261117.1")
	// workerd nested under wrangler, reached by a binary's path.
	other := t.TempDir()
	writePackage(t, other, "wrangler", "4.60.0")
	writePackage(t, other, "workerd", "1.20261117.1") // the project's own, not wrangler's
	writePackage(t, filepath.Join(other, "node_modules", "wrangler"), "workerd", "1.20260120.0")
	bin := filepath.Join(other, "node_modules", "wrangler", "bin", "wrangler.js")
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		dir  string
		want string
	}{
		{[]string{"npx", "wrangler", "dev"}, project, "2026-11-17"},
		{[]string{bin, "dev"}, project, "2026-01-20"},
		{[]string{"npx", "wrangler", "dev"}, t.TempDir(), ""},
	} {
		if got := wranglerRuntimeDate(tc.args, tc.dir); got != tc.want {
			t.Errorf("%v in %s: %q, want %q", tc.args, tc.dir, got, tc.want)
		}
	}
	for in, want := range map[string]string{"1.20260426.1": "2026-04-26", "1.2026042.1": "", "1.2026o426.0": "", "": "", "3.20260426.0.1": ""} {
		if got := workerdDate(in); got != want {
			t.Errorf("workerdDate(%q) = %q, want %q", in, got, want)
		}
	}
}
