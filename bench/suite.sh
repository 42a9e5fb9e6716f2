#!/usr/bin/env bash
# Times the whole test suite (scripts/test.sh) as a newcomer meets it, then as a developer re-runs it:
#
#   bash bench/suite.sh          # cold, then warm
#   bash bench/suite.sh cold     # only the cold run
#
# Cold: a fresh CARGO_TARGET_DIR and a fresh ~/.cache/cortado (the simulator's virtualenv, the Python
# and JavaScript toolchains, mdBook, compiled components): a temporary HOME. Kept from this machine:
# rustup's toolchains and cargo's downloaded crates (CARGO_HOME, RUSTUP_HOME), and the Debian packages
# scripts/setup.sh installs. Warm: the same command again in that HOME, everything cached.
#
# Runs from a snapshot of HEAD (a detached git worktree), so editing the tree meanwhile changes
# nothing; ../shared is linked beside it when this checkout has one, so the conformance step runs
# as in CI. Each run's log is kept; the table scripts/test.sh prints at its end says where the time
# went. Nothing else should run on the machine meanwhile.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${1:-both}"
case "$mode" in both | cold) ;; *) echo "usage: bench/suite.sh [both|cold]" >&2; exit 2 ;; esac

work="$(mktemp -d /tmp/cortado-suite.XXXXXX)"
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
git -C "$root" worktree add --quiet --detach "$work/src" HEAD
[ ! -d "$root/../shared" ] || ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"
mkdir -p "$work/home"
cleanup() { git -C "$root" worktree remove --force "$work/src" 2>/dev/null || true; }
trap cleanup EXIT

run() { # run NAME: one timed scripts/test.sh in the snapshot, with the temporary HOME
  local name="$1" t0=$SECONDS rc=0
  (cd "$work/src" && env -u CARGO_TARGET_DIR -u CORTADO_VENV -u CORTADO_PLUGIN_DIR -u CORTADO_MDBOOK \
    HOME="$work/home" bash scripts/test.sh) >"$work/$name.log" 2>&1 || rc=$?
  echo "suite: $name run of $(git -C "$root" rev-parse --short HEAD): exit $rc in $((SECONDS - t0)) s (log: $work/$name.log)"
  sed -n '/^test: where the time went/,$p' "$work/$name.log"
  grep -E '^run-tests: [0-9]+ passed' "$work/$name.log" || true
  return $rc
}

run cold
[ "$mode" = cold ] || run warm
echo "suite: the temporary HOME is $work/home (remove it when done: rm -rf $work)"
