# edgeinfer developer entry points. `make setup` installs everything the
# engine needs under $(EDGEINFER_HOME); `make test` is what CI runs.

EDGEINFER_HOME ?= $(HOME)/.edgeinfer
export EDGEINFER_HOME

GO ?= go
BIN := bin/edgeinfer

# Compat tier: the real Workers runtime, wrangler, miniflare and the official
# SDKs against a freshly started edgeinfer (compat/run.sh).
COMPAT_TEST ?= bash compat/run.sh
# Bounded fuzzing of every decoder on every change: 2,000 executions per target
# (about a minute for the slowest, FuzzParse); longer runs: make fuzz FUZZTIME=100000x.
# A count, not a duration: Go 1.26's fuzzer can fail at a -fuzztime deadline with
# no crashing input (golang/go#75804).
FUZZTIME ?= 2000x

# imageprep decodes JPEG with libjpeg-turbo through cgo where its headers are
# installed (libjpeg-dev; `make setup` installs it), else with Go's slower
# image/jpeg: the same test as scripts/setup.sh's jpeg_build_tags.
ifneq ($(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && printf '\043include <stdio.h>\n\043include <jpeglib.h>\n' | $$($(GO) env CC) -E -x c - >/dev/null 2>&1 && echo yes),yes)
export GOFLAGS += -tags=nolibjpeg
endif

.PHONY: setup build run test test-deps test-cuda-core fuzz fmt fmt-check vet synth-full clean

setup:
	scripts/setup.sh

build:
	$(GO) build -o $(BIN) ./cmd/edgeinfer

run: setup
	$(BIN) serve

test: setup test-deps vet fmt-check
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) fuzz
	$(COMPAT_TEST)

# Node packages the Go tests drive (the transformers.js preprocessing parity check,
# the tokenizer parity checks against Hugging Face tokenizers and transformers.js,
# whisper.cpp (@napi-rs/whisper) loading the synthetic Whisper's ggml files).
test-deps:
	@[ -f compat/imageprep-parity/node_modules/tokenizers/package.json ] || (cd compat/imageprep-parity && npm ci --ignore-scripts --no-audit --no-fund)
	@[ -f benchmarks/whisper/peer/node_modules/@napi-rs/whisper-linux-x64-gnu/package.json ] || (cd benchmarks/whisper/peer && npm ci --ignore-scripts --no-audit --no-fund)

# The ONNX tests on the core of the CUDA build (ONNX Runtime 1.29.0), on the
# CPU: what a GPU machine loads, checked on any machine. Not part of `test`:
# it installs the CUDA build (~260 MB) into its own home.
CUDA_CORE_HOME ?= $(CURDIR)/.home/cuda-core
test-cuda-core:
	FORCE_GPU=1 EDGEINFER_HOME=$(CUDA_CORE_HOME) scripts/setup-gpu.sh
	EDGEINFER_ORT_LIB=$(CUDA_CORE_HOME)/lib/cuda/libonnxruntime.so $(GO) test -count=1 ./models/... ./engine/... ./cmd/... ./benchmarks/gpucheck

# Each fuzz target for FUZZTIME; a crash fails the build and leaves its input
# under testdata/fuzz for the regression corpus.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./imageprep
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeAudio$$' -fuzztime=$(FUZZTIME) ./models/audioprep
	$(GO) test -run='^$$' -fuzz='^FuzzDecoders$$' -fuzztime=$(FUZZTIME) ./engine/httpapi
	$(GO) test -run='^$$' -fuzz='^FuzzParseConfig$$' -fuzztime=$(FUZZTIME) ./engine
	$(GO) test -run='^$$' -fuzz='^FuzzJSONSchema$$' -fuzztime=$(FUZZTIME) ./engine
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeTranscription$$' -fuzztime=$(FUZZTIME) ./engine
	$(GO) test -run='^$$' -fuzz='^FuzzBERTEncode$$' -fuzztime=$(FUZZTIME) ./tokenize
	$(GO) test -run='^$$' -fuzz='^FuzzEncode$$' -fuzztime=$(FUZZTIME) ./tokenize/spm
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./tokenize/spm
	$(GO) test -run='^$$' -fuzz='^FuzzHFEncode$$' -fuzztime=$(FUZZTIME) ./tokenize/hf
	$(GO) test -run='^$$' -fuzz='^FuzzHFParse$$' -fuzztime=$(FUZZTIME) ./tokenize/hf
	$(GO) test -run='^$$' -fuzz='^FuzzHFBPE$$' -fuzztime=$(FUZZTIME) ./tokenize/hf
	$(GO) test -run='^$$' -fuzz='^FuzzHFDecode$$' -fuzztime=$(FUZZTIME) ./tokenize/hf
	$(GO) test -run='^$$' -fuzz='^FuzzTokenizer$$' -fuzztime=$(FUZZTIME) ./models/m2m100
	$(GO) test -run='^$$' -fuzz='^FuzzRead$$' -fuzztime=$(FUZZTIME) ./models/calibrate
	$(GO) test -run='^$$' -fuzz='^FuzzWhisperText$$' -fuzztime=$(FUZZTIME) ./models/whisper
	$(GO) test -run='^$$' -fuzz='^FuzzParseGuard$$' -fuzztime=$(FUZZTIME) ./models/llm
	$(GO) test -run='^$$' -fuzz='^FuzzEncode$$' -fuzztime=$(FUZZTIME) ./models/qwen3embed
	$(GO) test -run='^$$' -fuzz='^FuzzStripJSONC$$' -fuzztime=$(FUZZTIME) ./engine/devworker
	$(GO) test -run='^$$' -fuzz='^FuzzAlignWords$$' -fuzztime=$(FUZZTIME) ./models/whisper
	$(GO) test -run='^$$' -fuzz='^FuzzSegments$$' -fuzztime=$(FUZZTIME) ./models/whisper

fmt:
	gofmt -w $$(git ls-files -co --exclude-standard '*.go')

# Fails listing every Go file gofmt would change.
fmt-check:
	@files=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet ./...

synth-full: build
	$(BIN) models synth --preset full --out "$(EDGEINFER_HOME)/models"

clean:
	rm -rf bin
