package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// peerDir holds transformers.js, installed for the imageprep parity test.
const peerDir = "compat/imageprep-parity"

type peerResult struct {
	ImagesPerS  float64 `json:"images_per_s"`
	P50         float64 `json:"p50_ms"`
	P99         float64 `json:"p99_ms"`
	BatchedPerS float64 `json:"batched_images_per_s"`
}

// runPeer runs benchmarks/resnet/peer.mjs from the repository root, with
// transformers.js resolved from peerDir.
func runPeer(dir string, threads, concurrency int, d time.Duration, files []string) (peerResult, error) {
	list, err := os.CreateTemp("", "images-*.json")
	if err != nil {
		return peerResult{}, err
	}
	defer os.Remove(list.Name())
	if err := json.NewEncoder(list).Encode(files); err != nil {
		return peerResult{}, err
	}
	list.Close()
	cmd := exec.Command("node", filepath.Join("benchmarks", "resnet", "peer.mjs"), peerDir, dir,
		fmt.Sprint(threads), fmt.Sprint(concurrency), fmt.Sprint(int(d.Seconds())), list.Name())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return peerResult{}, err
	}
	var p peerResult
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return p, json.Unmarshal([]byte(lines[len(lines)-1]), &p)
}
