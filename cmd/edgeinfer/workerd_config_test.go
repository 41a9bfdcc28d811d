package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDialAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:8790", "127.0.0.1:8790"},
		{"0.0.0.0:9000", "127.0.0.1:9000"},
		{":9000", "127.0.0.1:9000"},
		{"[::]:9000", "127.0.0.1:9000"},
		{"localhost:9000", "localhost:9000"},
		{"[::1]:9000", "[::1]:9000"},
	}
	for _, tt := range tests {
		got, err := dialAddress(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("dialAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := dialAddress("8790"); err == nil {
		t.Error("an address without a port must be refused")
	}
}

func TestWorkerdConfigCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "conf", "edgeinfer.capnp")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	root := newRootCmd()
	root.SetArgs([]string{"workerd-config", "--worker", filepath.Join(dir, "src", "index.js"), "--engine", "0.0.0.0:9999",
		"--listen", "127.0.0.1:8000", "--kv", "HISTORY", "--compatibility-flag", "nodejs_compat", "--out", out})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		// embed resolves against the config file's folder.
		`esModule = embed "../src/index.js"`,
		`(name = "AI", wrapped = (moduleName = "cloudflare-internal:ai-api", innerBindings = [(name = "fetcher", service = "edgeinfer")]))`,
		`(name = "edgeinfer", external = (address = "127.0.0.1:9999", http = ()))`,
		`address = "127.0.0.1:8000", http = (), service = "worker"`,
		`(name = "HISTORY", kvNamespace = "kv-HISTORY")`,
		`(name = "kv-HISTORY", worker = .memoryKV)`,
		`compatibilityFlags = ["nodejs_compat"]`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("config lacks %s:\n%s", want, text)
		}
	}
}

func TestWorkerdConfigWithoutKVHasNoKVWorker(t *testing.T) {
	text, err := workerdConfig{WorkerPath: "w.js", Listen: "127.0.0.1:1", Engine: "127.0.0.1:2", Binding: "AI",
		CompatibilityDate: defaultCompatibilityDate}.render()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "memoryKV") || strings.Contains(text, "kvNamespace") {
		t.Fatalf("no --kv, yet a KV service:\n%s", text)
	}
}

func TestWorkerdConfigRefusesBadNames(t *testing.T) {
	for _, c := range []workerdConfig{
		{WorkerPath: "w.js", Listen: "127.0.0.1:1", Binding: "my-ai"},
		{WorkerPath: "w.js", Listen: "127.0.0.1:1", Binding: "AI", KVNamespaces: []string{"AI"}},
		{WorkerPath: "w.js", Listen: "nowhere", Binding: "AI"},
		{WorkerPath: "", Listen: "127.0.0.1:1", Binding: "AI"},
	} {
		if _, err := c.render(); err == nil {
			t.Errorf("%+v rendered without an error", c)
		}
	}
}

func TestCapnpStringEscapes(t *testing.T) {
	if got, want := capnpString("a\"b\\c\nd"), `"a\"b\\c\nd"`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestWorkerdConfigTokenEnv(t *testing.T) {
	c := workerdConfig{WorkerPath: "w.js", Listen: "127.0.0.1:1", Engine: "127.0.0.1:2", Binding: "AI",
		CompatibilityDate: defaultCompatibilityDate, TokenEnv: "EDGEINFER_API_TOKEN"}
	text, err := c.render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		// The binding's fetcher is now the token-adding Worker, which reaches edgeinfer.
		`(name = "edgeinfer", worker = .bearerToken)`,
		`(name = "edgeinfer-http", external = (address = "127.0.0.1:2", http = ()))`,
		`(name = "TOKEN", fromEnvironment = "EDGEINFER_API_TOKEN")`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("config lacks %s:\n%s", want, text)
		}
	}
	c.TokenEnv = "NOT-A-NAME"
	if _, err := c.render(); err == nil {
		t.Error("a malformed variable name was accepted")
	}
}
