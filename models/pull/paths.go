package pull

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// CheckPath accepts a repository file path that stays inside the model
// directory once joined to it: relative, slash-separated, clean, with no
// ".." segment. Catalog and config entries name files this way, and a file
// list is checked before any request is made.
func CheckPath(p string) error {
	switch {
	case p == "" || p == ".":
		return fmt.Errorf("file path %q names no file", p)
	case strings.ContainsAny(p, "\\\x00"):
		// A backslash is a separator on Windows and never appears in hub paths.
		return fmt.Errorf("file path %q contains a backslash or NUL", p)
	case path.IsAbs(p) || filepath.IsAbs(p) || filepath.VolumeName(p) != "":
		return fmt.Errorf("file path %q is absolute; want a path inside the model directory", p)
	case path.Clean(p) != p:
		return fmt.Errorf("file path %q is not clean (want %q)", p, path.Clean(p))
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return fmt.Errorf("file path %q escapes the model directory", p)
		}
	}
	if !filepath.IsLocal(filepath.FromSlash(p)) { // reserved names such as NUL on Windows
		return fmt.Errorf("file path %q is not a local path", p)
	}
	return nil
}

// repoPattern is a hub repository ID, owner/name. The hub allows letters,
// digits, '-', '_' and '.' in each part.
var repoPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)

// CheckRepo accepts a hub repository ID such as "Xenova/bge-small-en-v1.5".
func CheckRepo(repo string) error {
	if !repoPattern.MatchString(repo) || strings.Contains(repo, "..") {
		return fmt.Errorf("%q is not a hub repository ID (want owner/name)", repo)
	}
	return nil
}

// localPath joins a checked repository path to dir.
func localPath(dir, p string) string {
	return filepath.Join(dir, filepath.FromSlash(p))
}
