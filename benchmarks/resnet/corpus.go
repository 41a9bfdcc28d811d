package main

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"

	"github.com/edgeinfer/edgeinfer/imageprep/imagetest"
)

// sizes are the corpus's image sizes: what callers send, from a VGA frame
// through screenshots and 1080p to phone photos of 5, 8 and 12 megapixels.
var sizes = [][2]int{{640, 480}, {800, 600}, {1024, 768}, {1280, 720}, {1600, 900}, {1920, 1080}, {2560, 1440}, {3264, 2448}, {4032, 3024}}

// photo is one corpus file.
type photo struct {
	name string
	w, h int
	data []byte
}

// loadCorpus returns perSize photo-like JPEGs (quality 90) of every size,
// generated once into dir and read back afterwards: the same files for
// every configuration and for the peer.
func loadCorpus(dir string, perSize int) ([]photo, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []photo
	// Sizes interleave, so every stretch of a run sees the same mix.
	for i := range perSize {
		for _, s := range sizes {
			name := fmt.Sprintf("%dx%d-%02d.jpg", s[0], s[1], i)
			path := filepath.Join(dir, name)
			data, err := os.ReadFile(path)
			if err != nil {
				var buf bytes.Buffer
				if err := jpeg.Encode(&buf, imagetest.Photo(s[0], s[1], uint64(i)), &jpeg.Options{Quality: 90}); err != nil {
					return nil, err
				}
				data = buf.Bytes()
				if err := os.WriteFile(path, data, 0o644); err != nil {
					return nil, err
				}
			}
			out = append(out, photo{name: name, w: s[0], h: s[1], data: data})
		}
	}
	return out, nil
}

// paths lists the corpus files on disk, for the peer.
func paths(dir string, corpus []photo) []string {
	p := make([]string, len(corpus))
	for i, c := range corpus {
		p[i] = filepath.Join(dir, c.name)
	}
	return p
}
