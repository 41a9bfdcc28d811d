#!/usr/bin/env bash
# Compat tier: unchanged Worker code (workerd, wrangler dev 3 and 4, miniflare,
# the Vite plugin, vitest-pool-workers) and the official SDKs, run with node's
# test runner against a freshly started edgeinfer on the models in
# $EDGEINFER_HOME (`make setup` generates the synthetic demo set there). All
# traffic stays on 127.0.0.1. The tier runs under the node 22 `make setup`
# installs into $EDGEINFER_HOME/node; SYSTEM_NODE_TESTS run on the system node.
#
#   bash compat/run.sh                      # every test file
#   bash compat/run.sh test/openai.test.mjs # some of them (paths relative to compat/)
set -euo pipefail

COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$COMPAT_DIR")
export EDGEINFER_HOME=${EDGEINFER_HOME:-$HOME/.edgeinfer}
GO=${GO:-go}

die() {
	printf 'compat: %s\n' "$*" >&2
	exit 1
}

command -v node >/dev/null || die "node not found: install node 20+ (make setup checks for it)"
[[ -d $EDGEINFER_HOME/models ]] || die "no models under $EDGEINFER_HOME/models: run \`make setup\` first"
SYSTEM_NODE=$(command -v node)
NODE22_DIR=$EDGEINFER_HOME/node/bin
[[ -x $NODE22_DIR/node ]] || die "no node 22 at $NODE22_DIR/node: run \`make setup\` (wrangler 4 and vitest-pool-workers need node >= 22.12)"
export PATH=$NODE22_DIR:$PATH
# wrangler 3 is what node 20 users run: its tests keep the system node covered.
SYSTEM_NODE_TESTS=(test/wrangler.test.mjs test/wrangler3-dev.test.mjs)

# npm ci, not install: the pinned lock file is the contract. --ignore-scripts
# skips postinstall downloads; workerd's binary comes as the optional
# dependency @cloudflare/workerd-linux-64 and needs no script.
# compat/toolchain/ pins the current toolchain (wrangler 4 and what needs it),
# which cannot share a node_modules with wrangler 3.
cd "$COMPAT_DIR"
for pkg in . toolchain; do
	if [[ ! -f $pkg/node_modules/.package-lock.json || $pkg/package-lock.json -nt $pkg/node_modules/.package-lock.json ]]; then
		echo "compat: npm ci --ignore-scripts in compat/$pkg"
		(cd "$pkg" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
	fi
done

(cd "$REPO_ROOT" && "$GO" build -o bin/edgeinfer ./cmd/edgeinfer)
export EDGEINFER_BIN=$REPO_ROOT/bin/edgeinfer

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgeinfer-compat.XXXXXX")
SERVER_PID=
cleanup() {
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# Port 0 lets the kernel choose a free port; edgeinfer logs the one it got.
LOG=$WORK/edgeinfer.log
"$EDGEINFER_BIN" serve --addr 127.0.0.1:0 >"$LOG" 2>&1 &
SERVER_PID=$!

addr=
for _ in $(seq 1 300); do
	kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOG" >&2; die "edgeinfer serve exited during startup"; }
	addr=$(sed -n 's/.*msg="edgeinfer listening" addr=\([0-9.]*:[0-9]*\).*/\1/p' "$LOG" | head -n1)
	if [[ -n $addr ]] && curl -fsS "http://$addr/readyz" >/dev/null 2>&1; then
		break
	fi
	addr=
	sleep 0.2
done
[[ -n $addr ]] || { cat "$LOG" >&2; die "edgeinfer did not become ready within 60 s"; }
export EDGEINFER_URL=http://$addr
echo "compat: edgeinfer ready at $EDGEINFER_URL (EDGEINFER_HOME=$EDGEINFER_HOME)"

tests=("$@")
((${#tests[@]})) || tests=(test/*.test.mjs)
node22_tests=() system_tests=()
for t in "${tests[@]}"; do
	if [[ " ${SYSTEM_NODE_TESTS[*]} " == *" $t "* ]]; then system_tests+=("$t"); else node22_tests+=("$t"); fi
done
status=0
if ((${#node22_tests[@]})); then
	echo "compat: node $(node --version) ($NODE22_DIR/node)"
	node --test --test-concurrency=1 "${node22_tests[@]}" || status=$?
fi
if ((${#system_tests[@]})); then
	echo "compat: system node $("$SYSTEM_NODE" --version) ($SYSTEM_NODE) for ${system_tests[*]}"
	"$SYSTEM_NODE" --test --test-concurrency=1 "${system_tests[@]}" || status=$?
fi
if ((status != 0)); then
	echo "compat: failures; the last lines of edgeinfer's log ($LOG):" >&2
	tail -n 40 "$LOG" >&2
fi
exit "$status"
