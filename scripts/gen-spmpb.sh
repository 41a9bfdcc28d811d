#!/usr/bin/env bash
# Regenerates tokenize/spm/spmpb (Go types for SentencePiece's sentencepiece_model.proto,
# the schema of *.model files such as M2M100's sentencepiece.bpe.model).
# The .proto is Google's (Apache-2.0); Debian's libsentencepiece-dev does not ship it,
# so it is taken from a pinned Go module that vendors it unchanged, fetched through
# the Go module proxy. Override with SPM_PROTO=/path/to/sentencepiece_model.proto.
# Needs: apt-get install protobuf-compiler. protoc-gen-go is pinned to the
# google.golang.org/protobuf version in go.mod.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/tokenize/spm/spmpb
gen_version=$(cd "$root" && go list -m -f '{{.Version}}' google.golang.org/protobuf)
proto_module=github.com/eliben/go-sentencepiece@v0.6.0

command -v protoc >/dev/null || { echo "missing protoc: apt-get install protobuf-compiler" >&2; exit 1; }
src=${SPM_PROTO:-}
if [ -z "$src" ]; then
	dir=$(cd "$root" && go mod download -json "$proto_module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	src=$dir/internal/model/sentencepiece_model.proto
fi
[ -f "$src" ] || { echo "missing $src" >&2; exit 1; }

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install "google.golang.org/protobuf/cmd/protoc-gen-go@$gen_version"

# The proto package is renamed from "sentencepiece" to "edgeinfer.sentencepiece":
# protobuf-go panics at start-up when two linked packages register the same full
# message names, and Go SentencePiece libraries register "sentencepiece.*". Field
# numbers, and so the wire format, are unchanged.
sed -e 's/^package sentencepiece;$/package edgeinfer.sentencepiece;/' "$src" >"$out/sentencepiece_model.proto"
grep -q '^package edgeinfer.sentencepiece;$' "$out/sentencepiece_model.proto" ||
	{ echo "package line not found in $src" >&2; exit 1; }

cd "$out"
PATH=$bin:$PATH protoc -I . \
	--go_out=. --go_opt=paths=source_relative \
	--go_opt=Msentencepiece_model.proto=github.com/edgeinfer/edgeinfer/tokenize/spm/spmpb \
	sentencepiece_model.proto
echo "generated $out/sentencepiece_model.pb.go from $src"
