#!/usr/bin/env bash
# Benchmark: plugin runtime (release): cold compile and cache-hit load per first-party plugin,
# instantiate, per-call latency, and rendering 10 000 tfstate lookups with and without the plugin.
# Targets: cached load ≤ 5 ms per plugin, a call ≤ 5 µs, the 10 000 lookups ≤ 100 ms.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$CORTADO_ROOT"
bash scripts/build-plugins.sh
cargo bench -p cortado --bench plugins
