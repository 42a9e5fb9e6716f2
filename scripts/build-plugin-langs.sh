#!/usr/bin/env bash
# Builds the Python and JavaScript example plugins (examples/{python,js}/*) and their hostile test
# fixtures (tests/fixtures/plugins-{py,js}/*) into $CARGO_TARGET_DIR/wasm32-wasip2/{py,js}/NAME.wasm.
#
# Each component is cached by the hash of what it is built from: its sources, the SDK, the WIT, the
# build scripts and the toolchain versions (componentize-py, node, the JS lockfile). A component
# takes 10-30 s to build, and modification times say nothing in a fresh clone (CI) or a fresh
# target directory, where every source looks new: the hash does. Entries live in
# ${CORTADO_LANG_BUILDS:-~/.cache/cortado/lang-builds}/{py,js}/NAME-HASH.wasm; an entry unused for
# 30 days is removed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CORTADO_ROOT"
out="$CARGO_TARGET_DIR/wasm32-wasip2"
cache="${CORTADO_LANG_BUILDS:-$HOME/.cache/cortado/lang-builds}"
langs="${CORTADO_PLUGIN_LANGS:-$HOME/.cache/cortado/plugin-langs}"
mkdir -p "$cache/py" "$cache/js" "$out/py" "$out/js"

# The toolchains, as part of every key: a new componentize-py, node or lockfile rebuilds everything.
py_tools="$("$langs/py/bin/componentize-py" --version 2>/dev/null || echo none)"
js_tools="$(node --version 2>/dev/null || echo none) $(sha256sum plugin-sdk-js/package-lock.json | cut -d' ' -f1)"

# key TOOLS PATH...: one hash over the tool versions and every file's path and content.
key() {
  local tools="$1"; shift
  { echo "$tools"; find "$@" -type f -not -path "*/__pycache__/*" -not -name "*.pyc" -print0 | sort -z | xargs -0 sha256sum; } \
    | sha256sum | cut -c1-16
}

# place LANG NAME KEY BUILD...: copy the cached entry to $out/LANG/NAME.wasm, building it first
# (BUILD with the entry's temporary path appended) when it is not cached.
place() {
  local lang="$1" name="$2" k="$3"; shift 3
  local entry="$cache/$lang/$name-$k.wasm" dest="$out/$lang/$name.wasm"
  if [ -f "$entry" ]; then
    touch "$entry"
  else
    echo "build-plugin-langs: $lang $name" >&2
    "$@" "$entry.tmp.$$" >/dev/null
    mv -f "$entry.tmp.$$" "$entry"
  fi
  cmp -s "$entry" "$dest" || cp "$entry" "$dest"
}

py_build() { bash plugin-sdk-py/build.sh "$1" "$2"; }
js_build() { bash plugin-sdk-js/build.sh "$1" "$2"; }

for dir in examples/python/*/ tests/fixtures/plugins-py/*/; do
  dir="${dir%/}"
  place py "$(basename "$dir")" "$(key "$py_tools" "$dir" plugin-sdk-py wit)" py_build "$dir"
done
for dir in examples/js/*/ tests/fixtures/plugins-js/*/; do
  dir="${dir%/}"
  place js "$(basename "$dir")" "$(key "$js_tools" "$dir" plugin-sdk-js/src plugin-sdk-js/build.mjs plugin-sdk-js/build.sh wit)" js_build "$dir/app.js"
done
# A TypeScript plugin (the SDK declarations' type-check example): build.sh strips the types.
place js ts-example "$(key "$js_tools" plugin-sdk-js/check plugin-sdk-js/src plugin-sdk-js/build.mjs plugin-sdk-js/build.sh wit)" \
  js_build plugin-sdk-js/check/example.ts
find "$cache" -name "*.wasm" -mtime +30 -delete 2>/dev/null || true
# The TypeScript declarations: generated from the WIT (stale → fail) and type-checked with tsc.
bash plugin-sdk-js/types.sh --check
