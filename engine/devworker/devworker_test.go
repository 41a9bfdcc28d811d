package devworker

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStripJSONC(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"line comment", "{\"a\": 1 // one\n}", `{"a":1}`},
		{"block comment", `{/* x */"a": /* y */ 2}`, `{"a":2}`},
		{"trailing commas", `{"a": [1, 2,], "b": {"c": 3,},}`, `{"a":[1,2],"b":{"c":3}}`},
		{"comment markers in strings", `{"u": "http://x/*y*/", "s": "a, ]"}`, `{"s":"a, ]","u":"http://x/*y*/"}`},
		{"escaped quote", `{"q": "say \"hi\" // not a comment",}`, `{"q":"say \"hi\" // not a comment"}`},
		{"comma before comment then brace", "{\"a\": 1, // last\n}", `{"a":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal(StripJSONC([]byte(tc.in)), &v); err != nil {
				t.Fatalf("not JSON after stripping: %v\n%s", err, StripJSONC([]byte(tc.in)))
			}
			got, _ := json.Marshal(v)
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// A comma between two values is kept: stripping must not turn invalid
// JSONC into valid JSON or valid JSONC into a different document.
func TestStripJSONCKeepsSeparators(t *testing.T) {
	in := `[1, /* c */ 2]`
	if got := string(StripJSONC([]byte(in))); !strings.Contains(got, ",") {
		t.Errorf("separator dropped: %q", got)
	}
}

func FuzzStripJSONC(f *testing.F) {
	for _, s := range []string{`{"a": 1, // c` + "\n}", `/* unterminated`, `"\\`, `[,]`, `{"a":"/*"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := StripJSONC(in)
		// Plain JSON without comments or trailing commas comes out meaning the same.
		var a, b any
		if json.Unmarshal(in, &a) == nil {
			if err := json.Unmarshal(out, &b); err != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("valid JSON changed: %q -> %q (%v)", in, out, err)
			}
		}
	})
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeriveReplacesEveryAIBinding(t *testing.T) {
	for _, tc := range []struct{ name, file, content string }{
		{"toml", "wrangler.toml", `
name = "app"
main = "src/index.ts"
compatibility_date = "2026-06-01"
services = [{ binding = "OTHER", service = "other" }]
[ai]
binding = "AI"
[env.staging.ai]
binding = "STAGING_AI"
`},
		{"jsonc", "wrangler.jsonc", `{
  // a comment
  "name": "app", "main": "src/index.ts", "compatibility_date": "2026-06-01",
  "services": [{ "binding": "OTHER", "service": "other" },],
  "ai": { "binding": "AI" },
  "env": { "staging": { "ai": { "binding": "STAGING_AI" } } },
}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, tc.file, tc.content)
			found, err := FindConfig(dir)
			if err != nil || found != path {
				t.Fatalf("FindConfig = %q, %v", found, err)
			}
			cfg, err := ReadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AIBinding() != "AI" {
				t.Errorf("AIBinding = %q", cfg.AIBinding())
			}
			derived, err := cfg.WriteDerived()
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Dir(derived) != dir {
				t.Errorf("derived config %s is not beside %s", derived, path)
			}
			var got map[string]any
			data, _ := os.ReadFile(derived)
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("derived config is not JSON: %v", err)
			}
			if _, ok := got["ai"]; ok {
				t.Error("top-level ai binding left in")
			}
			wantTop := []any{
				map[string]any{"binding": "OTHER", "service": "other"},
				map[string]any{"binding": "AI", "service": WorkerName, "entrypoint": Entrypoint},
			}
			if !reflect.DeepEqual(got["services"], wantTop) {
				t.Errorf("services = %v, want %v", got["services"], wantTop)
			}
			staging := got["env"].(map[string]any)["staging"].(map[string]any)
			if _, ok := staging["ai"]; ok {
				t.Error("env.staging.ai left in")
			}
			wantEnv := []any{map[string]any{"binding": "STAGING_AI", "service": WorkerName, "entrypoint": Entrypoint}}
			if !reflect.DeepEqual(staging["services"], wantEnv) {
				t.Errorf("env.staging.services = %v, want %v", staging["services"], wantEnv)
			}
			if got["main"] != "src/index.ts" || got["name"] != "app" {
				t.Errorf("other keys changed: %v", got)
			}
			if _, ok := cfg.Raw["ai"]; !ok {
				t.Error("Derive modified the parsed config")
			}
		})
	}
}

func TestConfigWithoutAIBinding(t *testing.T) {
	cfg, err := ReadConfig(writeFile(t, t.TempDir(), "wrangler.json", `{"name": "x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AIBinding() != "" {
		t.Errorf("AIBinding = %q", cfg.AIBinding())
	}
}

func TestReadConfigErrorsNameTheFile(t *testing.T) {
	path := writeFile(t, t.TempDir(), "wrangler.toml", "name = [")
	if _, err := ReadConfig(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v", err)
	}
	if _, err := FindConfig(t.TempDir()); err == nil {
		t.Error("FindConfig found a config in an empty folder")
	}
}

func TestErrorNamesAndCompatibility(t *testing.T) {
	for _, tc := range []struct {
		date      string
		flags     []any
		names     bool
		wantDate  string
		wantFlags []string
	}{
		{"2026-06-01", nil, true, "2026-06-01", nil},
		{"2026-04-21", nil, true, "2026-04-21", nil},
		{"2026-04-20", nil, false, "2026-04-20", nil},
		{"2024-06-01", nil, false, minDevWorkerDate, nil},
		{"2025-01-01", []any{"nodejs_compat", "enhanced_error_serialization"}, true, "2025-01-01", []string{"enhanced_error_serialization"}},
		{"2026-06-01", []any{"legacy_error_serialization"}, false, "2026-06-01", []string{"legacy_error_serialization"}},
	} {
		cfg := &Config{Raw: map[string]any{"compatibility_date": tc.date}}
		if tc.flags != nil {
			cfg.Raw["compatibility_flags"] = tc.flags
		}
		if got := cfg.ErrorNames(""); got != tc.names {
			t.Errorf("%s %v: ErrorNames = %v", tc.date, tc.flags, got)
		}
		// A runtime from before enhanced_error_serialization folds names
		// into messages whatever the config asks; a newer one follows it.
		if got := cfg.ErrorNames("2026-01-20"); got {
			t.Errorf("%s %v: ErrorNames on a January 2026 workerd = true", tc.date, tc.flags)
		}
		if got := cfg.ErrorNames("2026-06-30"); got != tc.names {
			t.Errorf("%s %v: ErrorNames on a June 2026 workerd = %v", tc.date, tc.flags, got)
		}
		date, flags := cfg.DevWorkerCompatibility()
		if date != tc.wantDate || !reflect.DeepEqual(flags, tc.wantFlags) {
			t.Errorf("%s %v: DevWorkerCompatibility = %s %v", tc.date, tc.flags, date, flags)
		}
	}
}

func TestWriteWorker(t *testing.T) {
	dir := t.TempDir()
	path, err := WriteWorker(dir, WorkerOptions{EngineURL: "http://127.0.0.1:8790", APIToken: "tok", CompatibilityDate: "2026-06-01"})
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	vars := cfg["vars"].(map[string]any)
	if cfg["name"] != WorkerName || vars["EDGEINFER_URL"] != "http://127.0.0.1:8790" || vars["EDGEINFER_API_TOKEN"] != "tok" || vars["EDGEINFER_ERROR_NAMES"] != "false" {
		t.Errorf("config = %s", data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600 (it holds the token)", st.Mode().Perm())
	}
	src, err := os.ReadFile(filepath.Join(dir, cfg["main"].(string)))
	if err != nil || !bytes.Equal(src, WorkerSource()) {
		t.Fatalf("worker module not written: %v", err)
	}
	if !bytes.Contains(src, []byte("export class "+Entrypoint+" extends WorkerEntrypoint")) {
		t.Error("the worker does not export the entrypoint the derived config binds to")
	}
}
