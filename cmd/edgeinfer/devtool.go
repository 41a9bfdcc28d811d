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
	// `npx wrangler@3 dev` runs the version asked for, whatever is installed.
	if _, spec, ok := strings.Cut(filepath.Base(word), "@"); ok && spec != "" && spec[0] >= '0' && spec[0] <= '9' &&
		version != spec && !strings.HasPrefix(version, spec+".") {
		version = spec
	}
	return devTool{Name: name, Version: version}
}

// fullVersion reports whether v is a whole version (4.164.0), not a major
// number or a range from `npx wrangler@4`.
func fullVersion(v string) bool {
	return strings.Count(v, ".") == 2
}

// toolEnvironment returns what a tool needs in its environment beyond what
// devEnvironment sets for all of them; lookup reads the user's environment.
// wrangler 3's miniflare downloads Request.cf from workers.cloudflare.com
// unless NODE_ENV is "test" (it has no CLOUDFLARE_CF_FETCH_ENABLED), so
// NODE_ENV=test is set for it as README's manual setup does, unless the user
// set NODE_ENV; wrangler 3 also writes it into the Worker's bundle as
// process.env.NODE_ENV.
func toolEnvironment(t devTool, lookup func(string) (string, bool)) []string {
	if t.Name == "wrangler" && t.Major() == "3" {
		if _, set := lookup("NODE_ENV"); !set {
			return []string{"NODE_ENV=test"}
		}
	}
	return nil
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
	_, version := packageAt(name, word, dir)
	return version
}

// packageAt returns the folder and version of the package named name whose
// binary the path word names, or "" when word is not a path into one.
func packageAt(name, word, dir string) (string, string) {
	if !strings.Contains(word, "/") {
		return "", ""
	}
	if !filepath.IsAbs(word) {
		word = filepath.Join(dir, word)
	}
	real, err := filepath.EvalSymlinks(word)
	if err != nil {
		return "", ""
	}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		var pkg struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		}
		if data, err := os.ReadFile(filepath.Join(d, "package.json")); err == nil && json.Unmarshal(data, &pkg) == nil && pkg.Name == name {
			return d, pkg.Version
		}
		if filepath.Dir(d) == d {
			return "", ""
		}
	}
}

// wranglerRuntimeDate returns the newest compatibility date of the workerd
// the command's wrangler runs (workerd 1.20260426.1 → "2026-04-26"), or ""
// when it cannot be found. A Worker's date beyond it gets only what that
// runtime has: wrangler 4 releases before April 2026 have no
// enhanced_error_serialization whatever the date asks for.
func wranglerRuntimeDate(args []string, dir string) string {
	_, word := toolWord(args)
	pkgDir, _ := packageAt("wrangler", word, dir)
	if pkgDir == "" {
		p, ok := findUp(dir, filepath.Join("node_modules", "wrangler", "package.json"))
		if !ok {
			return ""
		}
		pkgDir = filepath.Dir(p)
	}
	// workerd is nested under wrangler or beside it.
	p, ok := findUp(pkgDir, filepath.Join("node_modules", "workerd", "package.json"))
	if !ok {
		return ""
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if data, err := os.ReadFile(p); err != nil || json.Unmarshal(data, &pkg) != nil {
		return ""
	}
	return workerdDate(pkg.Version)
}

// workerdDate turns a workerd package version (1.YYYYMMDD.N) into its date.
func workerdDate(version string) string {
	parts := strings.Split(version, ".")
	if len(parts) != 3 || len(parts[1]) != 8 {
		return ""
	}
	d := parts[1]
	for _, c := range d {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return d[:4] + "-" + d[4:6] + "-" + d[6:]
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
