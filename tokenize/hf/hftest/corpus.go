// Package hftest reads the tokenizer parity corpus
// (tokenize/hf/testdata/corpus.txt) for the tests of tokenize/hf and of the
// synthetic tokenizers in models/synth.
package hftest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// CorpusPath is the corpus file in the source tree.
func CorpusPath() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "testdata", "corpus.txt")
}

// Corpus returns the corpus texts, unescaped (see testdata/README.md).
func Corpus() ([]string, error) {
	raw, err := os.ReadFile(CorpusPath())
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# ") {
		return nil, fmt.Errorf("%s: missing header line", CorpusPath())
	}
	texts := make([]string, 0, len(lines)-1)
	for i, l := range lines[1:] {
		t, err := Unescape(l)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", CorpusPath(), i+2, err)
		}
		texts = append(texts, t)
	}
	return texts, nil
}

// Unescape decodes one corpus line: \\ \n \r \t and \u{HEX}.
func Unescape(l string) (string, error) {
	if !strings.Contains(l, `\`) {
		return l, nil
	}
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		if l[i] != '\\' {
			b.WriteByte(l[i])
			continue
		}
		if i+1 >= len(l) {
			return "", fmt.Errorf("dangling backslash")
		}
		i++
		switch l[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			end := strings.IndexByte(l[i:], '}')
			if i+1 >= len(l) || l[i+1] != '{' || end < 0 {
				return "", fmt.Errorf(`malformed \u{...} escape`)
			}
			v, err := strconv.ParseUint(l[i+2:i+end], 16, 32)
			if err != nil {
				return "", err
			}
			b.WriteRune(rune(v))
			i += end
		default:
			return "", fmt.Errorf("unknown escape \\%c", l[i])
		}
	}
	return b.String(), nil
}
