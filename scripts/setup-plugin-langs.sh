#!/usr/bin/env bash
# The toolchains for Python and JavaScript plugins, pinned, under ~/.cache/cortado/plugin-langs
# (override with CORTADO_PLUGIN_LANGS): componentize-py in its own virtualenv, and jco /
# componentize-js from plugin-sdk-js/package-lock.json. Idempotent and quick when nothing changed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
langs="${CORTADO_PLUGIN_LANGS:-$HOME/.cache/cortado/plugin-langs}"
COMPONENTIZE_PY_VERSION=0.25.1
mkdir -p "$langs"

if ! "$langs/py/bin/componentize-py" --version 2>/dev/null | grep -qx "componentize-py $COMPONENTIZE_PY_VERSION"; then
  echo "setup: installing componentize-py $COMPONENTIZE_PY_VERSION into $langs/py" >&2
  bash "$CORTADO_ROOT/scripts/make-venv.sh" "$langs/py" python3 "componentize-py==$COMPONENTIZE_PY_VERSION"
fi

lock="$CORTADO_ROOT/plugin-sdk-js/package-lock.json"
if ! cmp -s "$lock" "$langs/js/package-lock.json" || [ ! -d "$langs/js/node_modules/@bytecodealliance/componentize-js" ]; then
  echo "setup: installing the pinned JavaScript component toolchain into $langs/js" >&2
  mkdir -p "$langs/js"
  cp "$CORTADO_ROOT/plugin-sdk-js/package.json" "$lock" "$langs/js/"
  (cd "$langs/js" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
