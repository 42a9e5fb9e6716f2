#!/usr/bin/env bash
# ecspresso's own test data as black-box cases against a cortado binary: conformance.sh CORTADO.
# The suite lives beside the repository (../shared/conformance, read-only; CI keeps a copy of
# shared/ next to the clone) and fails the run when a case fails. A plain clone has none: the step
# is skipped there with one line saying why, and required when CI=true.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
suite="$(cd "$CORTADO_ROOT/.." && pwd)/shared/conformance/ecspresso/run.sh"
if [ -f "$suite" ]; then
  exec bash "$suite" "$1"
elif [ "${CI:-}" = true ]; then
  echo "conformance: CI=true but the ecspresso conformance suite is missing: expected $suite (a copy of shared/ beside the repository)" >&2
  exit 1
else
  echo "conformance: skipped: $suite is not here (the ecspresso conformance suite sits beside the repository in CI, where CI=true requires it)"
fi
