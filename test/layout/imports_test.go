// Package layout holds the repository's import rules and the test that
// enforces them on the real tree: leaves stay leaves, backends reach
// neither the synthetic generator nor the installer, the runtime glue
// reaches no graph builder, the engine names concrete models only in its
// one registry, and cmd/ is wiring that nothing imports.
package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pkg is one package of the dependency graph: its import path relative to
// the module ("models/bert"; "" for the module root) and what it imports
// directly (also relative; packages outside the module are left out).
type pkg struct {
	Path    string
	Imports []string
}

// infrastructure is what sits under models/ without being a backend: the
// generator, the installer, the runtime glue and the file formats. Every
// other package under models/ is a backend (or part of one), so a new
// backend falls under the backend rule without being listed anywhere.
var infrastructure = []string{
	"models/calibrate",
	"models/cpuinfo",
	"models/cudacheck",
	"models/onnxdir",
	"models/onnxfile",
	"models/onnxgraph",
	"models/ort",
	"models/pull",
	"models/synth",
}

// under reports whether path is dir or a package below it.
func under(path string, dirs ...string) bool {
	for _, d := range dirs {
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

func isInfrastructure(path string) bool { return under(path, infrastructure...) }

// rule forbids the packages from selects to depend on those forbidden
// selects: directly, or through any chain of imports when transitive.
type rule struct {
	id, text   string
	from       func(path string) bool
	forbidden  func(path string) bool
	transitive bool
}

var rules = []rule{
	{
		id: "a", text: "tokenize/, imageprep/ and models/audioprep are leaves: they depend on nothing under engine/ or models/",
		from:       func(p string) bool { return under(p, "tokenize", "imageprep", "models/audioprep") },
		forbidden:  func(p string) bool { return under(p, "engine", "models") },
		transitive: true,
	},
	{
		id: "b", text: "backend packages (under models/, not infrastructure) depend on neither models/synth nor models/pull",
		from:       func(p string) bool { return under(p, "models") && !isInfrastructure(p) },
		forbidden:  func(p string) bool { return under(p, "models/synth", "models/pull") },
		transitive: true,
	},
	{
		id: "c", text: "models/ort depends on neither models/onnxgraph nor models/synth",
		from:       func(p string) bool { return under(p, "models/ort") },
		forbidden:  func(p string) bool { return under(p, "models/onnxgraph", "models/synth") },
		transitive: true,
	},
	{
		id: "d", text: "packages under engine/ other than engine/backends do not import models/",
		from:      func(p string) bool { return under(p, "engine") && !under(p, "engine/backends") },
		forbidden: func(p string) bool { return under(p, "models") },
	},
	{
		id: "e", text: "nothing under models/ depends on engine/httpapi or engine/gateway",
		from:       func(p string) bool { return under(p, "models") },
		forbidden:  func(p string) bool { return under(p, "engine/httpapi", "engine/gateway") },
		transitive: true,
	},
	{
		id: "f", text: "nothing imports cmd/ (benchmarks/ and test/ may import anything)",
		from:      func(p string) bool { return !under(p, "benchmarks", "test") },
		forbidden: func(p string) bool { return under(p, "cmd") },
	},
}

// check returns one line per broken rule and forbidden package reached,
// with the chain of imports that reaches it; none when the graph keeps
// every rule.
func check(pkgs []pkg) []string {
	imports := map[string][]string{}
	for _, p := range pkgs {
		imports[p.Path] = p.Imports
	}
	var out []string
	for _, r := range rules {
		for _, p := range pkgs {
			if !r.from(p.Path) {
				continue
			}
			for _, chain := range reach(imports, p.Path, r.forbidden, r.transitive) {
				out = append(out, fmt.Sprintf("rule %s (%s): %s", r.id, r.text, strings.Join(chain, " → ")))
			}
		}
	}
	return out
}

// reach finds the forbidden packages that start imports (directly, or
// through any chain when transitive), each with the shortest chain from
// start, in a stable order.
func reach(imports map[string][]string, start string, forbidden func(string) bool, transitive bool) [][]string {
	prev := map[string]string{start: ""}
	queue := []string{start}
	var found []string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, next := range imports[cur] {
			if _, seen := prev[next]; seen {
				continue
			}
			prev[next] = cur
			if forbidden(next) {
				found = append(found, next)
			}
			if transitive {
				queue = append(queue, next)
			}
		}
	}
	slices.Sort(found)
	chains := make([][]string, len(found))
	for i, f := range found {
		for at := f; at != ""; at = prev[at] {
			chains[i] = append(chains[i], at)
		}
		slices.Reverse(chains[i])
	}
	return chains
}

// listModule runs `go list -deps -json ./...` at the module root and
// returns the module's own packages, their paths and imports relative to
// the module. Test files are not part of it: the rules hold for the code
// that ships.
func listModule(t *testing.T) []pkg {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	mod, err := exec.Command("go", "list", "-C", root, "-m").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	module := strings.TrimSpace(string(mod))
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json ./...: %v\n%s", err, stderr.Bytes())
	}
	rel := func(path string) (string, bool) {
		if path == module {
			return "", true
		}
		r, ok := strings.CutPrefix(path, module+"/")
		return r, ok
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		path, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		own := pkg{Path: path}
		for _, imp := range p.Imports {
			if r, ok := rel(imp); ok {
				own.Imports = append(own.Imports, r)
			}
		}
		pkgs = append(pkgs, own)
	}
	return pkgs
}

// TestImportsPointTheRightWay checks the rules on the real tree.
func TestImportsPointTheRightWay(t *testing.T) {
	pkgs := listModule(t)
	var paths []string
	for _, p := range pkgs {
		paths = append(paths, p.Path)
	}
	// The rules must have something to hold on: an empty or partial listing
	// would pass vacuously.
	for _, want := range []string{"tokenize/spm", "imageprep", "models/bert", "models/llm", "models/ort", "engine", "engine/backends", "engine/httpapi", "cmd/edgeinfer"} {
		if !slices.Contains(paths, want) {
			t.Fatalf("go list did not report %s; got %v", want, paths)
		}
	}
	for _, r := range rules {
		if !slices.ContainsFunc(paths, r.from) {
			t.Errorf("rule %s applies to no package", r.id)
		}
	}
	for _, v := range check(pkgs) {
		t.Error(v)
	}
}

// clean is a small graph shaped like the repository that keeps every rule.
var clean = []pkg{
	{Path: "cmd/edgeinfer", Imports: []string{"engine", "engine/backends", "engine/httpapi", "models/pull", "models/synth", "models/cudacheck"}},
	{Path: "engine"},
	{Path: "engine/batch", Imports: []string{"engine"}},
	{Path: "engine/gateway", Imports: []string{"engine"}},
	{Path: "engine/httpapi", Imports: []string{"engine", "engine/gateway"}},
	{Path: "engine/backends", Imports: []string{"engine", "models/bert", "models/llm"}},
	{Path: "imageprep"},
	{Path: "models/audioprep"},
	{Path: "tokenize"},
	{Path: "tokenize/spm", Imports: []string{"tokenize/spm/spmpb"}},
	{Path: "tokenize/spm/spmpb"},
	{Path: "models/onnxfile"},
	{Path: "models/onnxgraph", Imports: []string{"models/onnxfile"}},
	{Path: "models/ort", Imports: []string{"models/onnxfile"}},
	{Path: "models/onnxdir", Imports: []string{"engine", "models/ort"}},
	{Path: "models/synth", Imports: []string{"engine", "models/onnxgraph", "tokenize/spm/spmpb"}},
	{Path: "models/pull", Imports: []string{"engine", "models/onnxdir"}},
	{Path: "models/cudacheck", Imports: []string{"models/ort", "models/synth"}},
	{Path: "models/bert", Imports: []string{"engine", "engine/batch", "models/onnxdir", "models/ort", "tokenize"}},
	{Path: "models/llm", Imports: []string{"engine", "models/llm/ollamaserver"}},
	{Path: "models/llm/ollamaserver"},
	{Path: "benchmarks/gpucheck", Imports: []string{"engine/httpapi", "models/bert", "models/synth", "models/onnxgraph"}},
	{Path: "test/load", Imports: []string{"engine/backends", "models/synth", "models/pull"}},
}

// with returns clean plus the edge from → to (and the package from, when
// clean lacks it).
func with(from, to string) []pkg {
	out := make([]pkg, 0, len(clean)+1)
	added := false
	for _, p := range clean {
		if p.Path == from {
			p.Imports = append(slices.Clone(p.Imports), to)
			added = true
		}
		out = append(out, p)
	}
	if !added {
		out = append(out, pkg{Path: from, Imports: []string{to}})
	}
	return out
}

// TestCheckCatchesViolations feeds check graphs that each break one rule,
// directly or through a chain, and wants that rule reported.
func TestCheckCatchesViolations(t *testing.T) {
	if v := check(clean); len(v) != 0 {
		t.Fatalf("the clean graph breaks rules:\n%s", strings.Join(v, "\n"))
	}
	for _, tc := range []struct {
		name, from, to string
		want           string // the rule and the chain reported
	}{
		{"tokenize imports a model proto", "tokenize/spm", "models/spmpb", "rule a (tokenize/, imageprep/ and models/audioprep are leaves: they depend on nothing under engine/ or models/): tokenize/spm → models/spmpb"},
		{"imageprep imports the engine", "imageprep", "engine", "rule a (tokenize/, imageprep/ and models/audioprep are leaves: they depend on nothing under engine/ or models/): imageprep → engine"},
		{"audioprep imports a backend", "models/audioprep", "models/m2m100", "rule a (tokenize/, imageprep/ and models/audioprep are leaves: they depend on nothing under engine/ or models/): models/audioprep → models/m2m100"},
		{"a leaf reaches models through its proto", "tokenize/spm/spmpb", "models/onnxfile", "tokenize/spm → tokenize/spm/spmpb → models/onnxfile"},
		{"a backend imports synth", "models/bert", "models/synth", "rule b (backend packages (under models/, not infrastructure) depend on neither models/synth nor models/pull): models/bert → models/synth"},
		{"a backend subpackage imports pull", "models/llm/ollamaserver", "models/pull", "rule b (backend packages (under models/, not infrastructure) depend on neither models/synth nor models/pull): models/llm/ollamaserver → models/pull"},
		{"a backend reaches synth through infrastructure", "models/onnxdir", "models/synth", "models/bert → models/onnxdir → models/synth"},
		{"a backend reaches synth through the self-test", "models/llm", "models/cudacheck", "models/llm → models/cudacheck → models/synth"},
		{"a future backend imports synth", "models/whisper", "models/synth", "rule b (backend packages (under models/, not infrastructure) depend on neither models/synth nor models/pull): models/whisper → models/synth"},
		{"the runtime imports the graph builder", "models/ort", "models/onnxgraph", "rule c (models/ort depends on neither models/onnxgraph nor models/synth): models/ort → models/onnxgraph"},
		{"the runtime reaches synth", "models/onnxfile", "models/synth", "rule c (models/ort depends on neither models/onnxgraph nor models/synth): models/ort → models/onnxfile → models/synth"},
		{"the engine imports a backend", "engine/httpapi", "models/bert", "rule d (packages under engine/ other than engine/backends do not import models/): engine/httpapi → models/bert"},
		{"the engine root imports the runtime", "engine", "models/ort", "rule d (packages under engine/ other than engine/backends do not import models/): engine → models/ort"},
		{"a backend imports the HTTP layer", "models/llm", "engine/httpapi", "rule e (nothing under models/ depends on engine/httpapi or engine/gateway): models/llm → engine/httpapi"},
		{"infrastructure reaches the gateway", "models/pull", "engine/httpapi", "rule e (nothing under models/ depends on engine/httpapi or engine/gateway): models/pull → engine/httpapi"},
		{"the engine imports cmd", "engine", "cmd/edgeinfer", "rule f (nothing imports cmd/ (benchmarks/ and test/ may import anything)): engine → cmd/edgeinfer"},
		{"a tool under cmd imports cmd", "cmd/other", "cmd/edgeinfer/flags", "rule f (nothing imports cmd/ (benchmarks/ and test/ may import anything)): cmd/other → cmd/edgeinfer/flags"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := check(with(tc.from, tc.to))
			if len(got) == 0 {
				t.Fatalf("%s → %s passes", tc.from, tc.to)
			}
			if tc.want != "" && !slices.ContainsFunc(got, func(v string) bool { return strings.Contains(v, tc.want) }) {
				t.Fatalf("want a line containing %q, got:\n%s", tc.want, strings.Join(got, "\n"))
			}
		})
	}
	// benchmarks/ and test/ may import anything; infrastructure may use the
	// generator and the installer; engine/backends names the backends.
	for _, edge := range [][2]string{
		{"benchmarks/llm", "cmd/edgeinfer"},
		{"test/faults", "cmd/edgeinfer"},
		{"benchmarks/m2m100", "models/synth"},
		{"models/pull", "models/synth"},
		{"models/pull/pulltest", "models/synth"},
		{"engine/backends", "models/m2m100"},
		{"models/synth", "tokenize/spm"},
	} {
		if v := check(with(edge[0], edge[1])); len(v) != 0 {
			t.Errorf("%s → %s is allowed, yet:\n%s", edge[0], edge[1], strings.Join(v, "\n"))
		}
	}
}
