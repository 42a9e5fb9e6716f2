#!/usr/bin/env bash
# Benchmark: plugin runtime (release): cold compile and cache-hit load per first-party plugin,
# instantiate, per-call latency, and rendering 10 000 tfstate lookups with and without the plugin.
# Targets: cached load incl. its MAC check ≤ 0.5 ms per plugin, a call ≤ 5 µs, the 10 000 lookups ≤ 100 ms. Then the Python
# and JavaScript components (size, compile, load, instantiate, call; cached load ≤ 150 ms; the compile of
# a second component of the same toolchain, whose shared functions are cached) and a whole
# render with one Python / JS call (≤ 200 ms).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$CORTADO_ROOT"
bash scripts/build-plugins.sh
bash scripts/build-plugin-langs.sh
cargo bench -p cortado --bench plugins

# A whole `cortado render` with one Python (and one JavaScript) function call, the component cached:
# wall-clock medians of 11 runs of the release binary (target: ≤ 200 ms).
cargo build --quiet --release --bin cortado
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CORTADO_CACHE_DIR="$work/cache"
for lang in py js; do
  wasm="$CARGO_TARGET_DIR/wasm32-wasip2/$lang/spin.wasm"
  printf 'region: us-east-1\ntask_definition: td.json\nplugins:\n  - name: echo-%s\n    path: %s\n    sha256: %s\n' \
    "$lang" "$wasm" "$(sha256sum "$wasm" | cut -d' ' -f1)" > "$work/cortado.yml"
  echo '{"family": "b", "containerDefinitions": [{"name": "app", "image": "{{ echo `nginx:1` }}"}]}' > "$work/td.json"
  (cd "$work" && "$CARGO_TARGET_DIR/release/cortado" render taskdef >/dev/null) # compiles into the cache
  times=()
  for _ in $(seq 11); do
    start=$(date +%s%N)
    (cd "$work" && "$CARGO_TARGET_DIR/release/cortado" render taskdef >/dev/null)
    times+=($(( ($(date +%s%N) - start) / 1000000 )))
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 6p)
  echo "render with one $lang function call (cached component): median $median ms"
done
