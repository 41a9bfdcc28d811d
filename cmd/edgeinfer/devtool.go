package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// devTool is the Workers tool a user's dev command runs.
type devTool struct {
	Name    string // wrangler, vite or vitest; "" when none was recognised
	Version string // the installed version, from node_modules; "" when not found
}

// testedToolVersions are the versions the compat tier runs `edgeinfer dev` with.
var testedToolVersions = map[string][]string{
	"wrangler": {"3.114.17", "4.164.0"},
	"vite":     {"8.4.1"},
	"vitest":   {"4.1.12"},
}

// Major returns the version's major number as text ("4" for 4.164.0).
func (t devTool) Major() string {
	major, _, _ := strings.Cut(t.Version, ".")
	return major
}

// Tested reports whether the compat tier covers this version.
func (t devTool) Tested() bool {
	return slices.Contains(testedToolVersions[t.Name], t.Version)
}

// packageRunners run a package.json script or a package's binary; the word
// after them names what runs.
var packageRunners = map[string]bool{"npm": true, "npx": true, "pnpm": true, "yarn": true, "bun": true, "bunx": true}

// detectDevTool finds which tool a command runs: wrangler, vite or vitest,
// named directly (wrangler dev, npx vite, ./node_modules/.bin/vitest run) or
// through a package.json script (npm run dev), and the version installed
// under dir's node_modules.
func detectDevTool(args []string, dir string) devTool {
	name, word := toolWord(args)
	if name == "" {
		if script := scriptOf(args, dir); script != "" {
			name, word = toolWord(strings.Fields(script))
		}
	}
	if name == "" {
		return devTool{}
	}
	version := versionAt(name, word, dir)
	if version == "" {
		version = installedVersion(name, dir)
	}
	return devTool{Name: name, Version: version}
}

func toolInWords(words []string) string {
	name, _ := toolWord(words)
	return name
}

// toolWord returns the tool a command names and the word that names it.
func toolWord(words []string) (string, string) {
	for _, w := range words {
		switch filepath.Base(w) {
		case "wrangler", "wrangler.js":
			return "wrangler", w
		case "vite", "vite.js":
			return "vite", w
		case "vitest", "vitest.mjs":
			return "vitest", w
		}
		// `npx wrangler@4 dev`
		if base, _, ok := strings.Cut(filepath.Base(w), "@"); ok && (base == "wrangler" || base == "vite" || base == "vitest") {
			return base, w
		}
	}
	return "", ""
}

// versionAt reads the version of the package whose binary a path names
// (node_modules/.bin/wrangler links to node_modules/wrangler/bin/...).
func versionAt(name, word, dir string) string {
	if !strings.Contains(word, "/") {
		return ""
	}
	if !filepath.IsAbs(word) {
		word = filepath.Join(dir, word)
	}
	real, err := filepath.EvalSymlinks(word)
	if err != nil {
		return ""
	}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		var pkg struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		}
		if data, err := os.ReadFile(filepath.Join(d, "package.json")); err == nil && json.Unmarshal(data, &pkg) == nil && pkg.Name == name {
			return pkg.Version
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// scriptOf returns the package.json script `npm run NAME` (or `pnpm NAME`,
// `yarn NAME`, …) would run, or "".
func scriptOf(args []string, dir string) string {
	if len(args) < 2 || !packageRunners[filepath.Base(args[0])] {
		return ""
	}
	name := args[1]
	if (name == "run" || name == "run-script") && len(args) > 2 {
		name = args[2]
	}
	pkgPath, ok := findUp(dir, "package.json")
	if !ok {
		return ""
	}
	var pkg struct {
		Scripts map[string]string `json:"scripts"`
	}
	data, err := os.ReadFile(pkgPath)
	if err != nil || json.Unmarshal(data, &pkg) != nil {
		return ""
	}
	return pkg.Scripts[name]
}

// installedVersion reads node_modules/<name>/package.json's version from dir
// or the nearest parent that has one.
func installedVersion(name, dir string) string {
	p, ok := findUp(dir, filepath.Join("node_modules", name, "package.json"))
	if !ok {
		return ""
	}
	var pkg struct {
		Version string `json:"version"`
	}
	data, err := os.ReadFile(p)
	if err != nil || json.Unmarshal(data, &pkg) != nil {
		return ""
	}
	return pkg.Version
}

func findUp(dir, rel string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// wranglerConfigArg returns the config a wrangler command names with
// -c/--config (either spelling, with or without '='), and the command without it.
func wranglerConfigArg(args []string) (string, []string) {
	var config string
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "-c" || a == "--config") && i+1 < len(args):
			config = args[i+1]
			i++
		case strings.HasPrefix(a, "--config="):
			config = strings.TrimPrefix(a, "--config=")
		case strings.HasPrefix(a, "-c="):
			config = strings.TrimPrefix(a, "-c=")
		default:
			rest = append(rest, a)
		}
	}
	return config, rest
}

// withWranglerConfigs inserts `-c cfg…` right after the first "dev" word of
// a wrangler command (wrangler dev, npx wrangler dev, npm run dev --), or at
// the end when it has none (a package.json script that runs wrangler dev:
// npm passes what follows `--` on to it).
func withWranglerConfigs(args []string, configs ...string) []string {
	var flags []string
	for _, c := range configs {
		flags = append(flags, "-c", c)
	}
	for i, a := range args {
		if a == "dev" && i > 0 && toolInWords(args[:i]) == "wrangler" {
			return slices.Concat(args[:i+1], flags, args[i+1:])
		}
	}
	if scriptRunner(args) && !slices.Contains(args, "--") {
		flags = append([]string{"--"}, flags...)
	}
	return slices.Concat(args, flags)
}

func scriptRunner(args []string) bool {
	return len(args) > 0 && packageRunners[filepath.Base(args[0])] && toolInWords(args) == ""
}
