package layout

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReadmeLayoutListsEveryPackage holds README's Layout section to the
// tree: every package is listed, and every listed package or folder exists.
func TestReadmeLayoutListsEveryPackage(t *testing.T) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no ## Layout section")
	}
	_, block, _ := strings.Cut(section, "```\n")
	block, _, _ = strings.Cut(block, "```")
	listed := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			listed[f[0]] = true
		}
	}
	var pkgs []string
	for _, p := range listModule(t) {
		pkgs = append(pkgs, p.Path)
		if !listed[p.Path] {
			t.Errorf("package %s is missing from README's Layout section", p.Path)
		}
	}
	for name := range listed {
		if dir, ok := strings.CutSuffix(name, "/"); ok {
			if st, err := os.Stat(filepath.Join(root, dir)); err != nil || !st.IsDir() {
				t.Errorf("README's Layout lists %s, which is not a folder", name)
			}
		} else if !slices.Contains(pkgs, name) {
			t.Errorf("README's Layout lists %s, which is not a package", name)
		}
	}
}
