package ort

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Execution provider names, as ONNX Runtime spells them.
const (
	CPUProvider  = "CPUExecutionProvider"
	CUDAProvider = "CUDAExecutionProvider"
)

// Device is where a session should run: the CPU, or CUDA device ID.
type Device struct {
	CUDA bool
	ID   int
}

// ParseDevice reads "", "cpu", "cuda" or "cuda:N"; "" and "cpu" are the CPU
// and "cuda" is cuda:0.
func ParseDevice(s string) (Device, error) {
	switch {
	case s == "" || s == "cpu":
		return Device{}, nil
	case s == "cuda":
		return Device{CUDA: true}, nil
	case strings.HasPrefix(s, "cuda:"):
		id, err := strconv.Atoi(strings.TrimPrefix(s, "cuda:"))
		if err == nil && id >= 0 {
			return Device{CUDA: true, ID: id}, nil
		}
	}
	return Device{}, fmt.Errorf("ort: %q is not a device (want cpu, cuda or cuda:N)", s)
}

func (d Device) String() string {
	if !d.CUDA {
		return "cpu"
	}
	return fmt.Sprintf("cuda:%d", d.ID)
}

// CUDAOptions tune ONNX Runtime's CUDA execution provider; zero values keep
// ONNX Runtime's defaults.
type CUDAOptions struct {
	// GPUMemLimit caps the provider's memory arena, in bytes.
	GPUMemLimit int64
	// ArenaExtendStrategy is kNextPowerOfTwo or kSameAsRequested.
	ArenaExtendStrategy string
	// CuDNNConvAlgoSearch is EXHAUSTIVE, HEURISTIC or DEFAULT.
	CuDNNConvAlgoSearch string
	// Extra holds further provider options by ONNX Runtime's names, among
	// extraCUDAOptions (e.g. "use_tf32": "0"); they override the fields
	// above.
	Extra map[string]string
}

// extraCUDAOptions are the boolean ("0" or "1") CUDA provider options Extra
// may set. The list is closed because the provider aborts the process (an
// exception that crosses its library boundary) on an option it does not
// know or a value it cannot parse, rather than returning an error.
var extraCUDAOptions = []string{
	"use_tf32", "prefer_nhwc", "enable_cuda_graph", "cudnn_conv_use_max_workspace", "cudnn_conv1d_pad_to_nc1d",
	"do_copy_in_default_stream", "enable_skip_layer_norm_strict_mode", "tunable_op_enable", "tunable_op_tuning_enable",
}

// validate checks the options against what the provider accepts.
func (c CUDAOptions) validate() error {
	if c.GPUMemLimit < 0 {
		return fmt.Errorf("ort: CUDA gpu_mem_limit %d is negative", c.GPUMemLimit)
	}
	if !slices.Contains([]string{"", "kNextPowerOfTwo", "kSameAsRequested"}, c.ArenaExtendStrategy) {
		return fmt.Errorf("ort: CUDA arena_extend_strategy %q is not kNextPowerOfTwo or kSameAsRequested", c.ArenaExtendStrategy)
	}
	if !slices.Contains([]string{"", "EXHAUSTIVE", "HEURISTIC", "DEFAULT"}, c.CuDNNConvAlgoSearch) {
		return fmt.Errorf("ort: CUDA cudnn_conv_algo_search %q is not EXHAUSTIVE, HEURISTIC or DEFAULT", c.CuDNNConvAlgoSearch)
	}
	for k, v := range c.Extra {
		if !slices.Contains(extraCUDAOptions, k) {
			return fmt.Errorf("ort: %q is not a CUDA provider option edgeinfer passes (have %v)", k, extraCUDAOptions)
		}
		if v != "0" && v != "1" {
			return fmt.Errorf("ort: CUDA option %s=%q: want 0 or 1", k, v)
		}
	}
	return nil
}

// providerOptions are the options as ONNX Runtime's CUDA provider reads
// them. The device is chosen separately, so device_id is not among them.
func (c CUDAOptions) providerOptions() map[string]string {
	opts := map[string]string{}
	if c.GPUMemLimit > 0 {
		opts["gpu_mem_limit"] = strconv.FormatInt(c.GPUMemLimit, 10)
	}
	if c.ArenaExtendStrategy != "" {
		opts["arena_extend_strategy"] = c.ArenaExtendStrategy
	}
	if c.CuDNNConvAlgoSearch != "" {
		opts["cudnn_conv_algo_search"] = c.CuDNNConvAlgoSearch
	}
	maps.Copy(opts, c.Extra)
	return opts
}

// DeviceError reports a session that cannot run on the device it requires.
type DeviceError struct {
	Device string
	Reason string
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("ort: %s is required but unavailable: %s", e.Device, e.Reason)
}
