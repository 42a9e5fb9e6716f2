#!/usr/bin/env bash
# Builds the Python and JavaScript example plugins (examples/{python,js}/*) and their hostile test
# fixtures (tests/fixtures/plugins-{py,js}/*) into $CARGO_TARGET_DIR/wasm32-wasip2/{py,js}/NAME.wasm,
# skipping a component that is newer than its sources, the SDK and the WIT.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CORTADO_ROOT"
out="$CARGO_TARGET_DIR/wasm32-wasip2"

fresh() { # fresh OUT DIR...: OUT exists and nothing in the DIRs is newer
  local o="$1"; shift
  [ -f "$o" ] && [ -z "$(find "$@" -newer "$o" -type f -not -path "*/__pycache__/*" -print -quit)" ]
}

for dir in examples/python/*/ tests/fixtures/plugins-py/*/; do
  name="$(basename "$dir")"
  fresh "$out/py/$name.wasm" "$dir" plugin-sdk-py wit && continue
  echo "build-plugin-langs: python $name" >&2
  bash plugin-sdk-py/build.sh "$dir" "$out/py/$name.wasm" >/dev/null
done
for dir in examples/js/*/ tests/fixtures/plugins-js/*/; do
  name="$(basename "$dir")"
  fresh "$out/js/$name.wasm" "$dir" plugin-sdk-js/src plugin-sdk-js/build.mjs wit && continue
  echo "build-plugin-langs: js $name" >&2
  bash plugin-sdk-js/build.sh "$dir/app.js" "$out/js/$name.wasm"
done
# A TypeScript plugin (the SDK declarations' type-check example): build.sh strips the types.
if ! fresh "$out/js/ts-example.wasm" plugin-sdk-js/check plugin-sdk-js/src plugin-sdk-js/build.mjs wit; then
  echo "build-plugin-langs: ts ts-example" >&2
  bash plugin-sdk-js/build.sh plugin-sdk-js/check/example.ts "$out/js/ts-example.wasm"
fi
# The TypeScript declarations: generated from the WIT (stale → fail) and type-checked with tsc.
bash plugin-sdk-js/types.sh --check
