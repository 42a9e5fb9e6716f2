#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: set up, build plugins and the binary, then
# every unit and end-to-end test (the end-to-end tests start their own simulator on loopback).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$CORTADO_ROOT"

# Where the time goes: each step's wall-clock time and the CPU time of its processes, printed as a
# table when the run ends (also when a step fails), so a slow run says which step to look at. CPU
# above the wall time means the step used both cores; the background mdBook build is not counted.
timings=()
times_file=$(mktemp)
cpu_now() { # cpu_ms=user+system time of this shell's finished children, in milliseconds
  times >"$times_file" # in this shell: a $(times) subshell would report its own children
  cpu_ms=$(python3 -c 'import re,sys; print(sum(int(float(m)*60000+float(s)*1000) for m,s in re.findall(r"(\d+)m([\d.]+)s", open(sys.argv[1]).readlines()[-1])))' "$times_file")
}
step() {
  running="$1" running_since=$SECONDS
  shift
  cpu_now
  local c0=$cpu_ms rc=0
  "$@" || rc=$? # a failure is returned, not exited on here: `step … || handle` must see it
  ((rc == 0)) || return $rc
  cpu_now
  timings+=("$(printf '%-32s %5d s wall %6d s CPU' "$running" $((SECONDS - running_since)) $(((cpu_ms - c0) / 1000)))")
  running=""
}
report() {
  local rc=$?
  rm -f "$times_file"
  [ -z "${running:-}" ] || timings+=("$(printf '%-32s %5d s wall  (failed)' "$running" $((SECONDS - running_since)))")
  ((${#timings[@]})) && { echo "test: where the time went (total ${SECONDS} s)"; printf '  %s\n' "${timings[@]}"; } >&2
  return $rc
}
trap report EXIT

# mdBook is needed only for the manual at the end: compiled (once) in the background at low priority,
# on the CPU that downloads, simulator waits and single-threaded steps leave idle.
mdbook_log="$CARGO_TARGET_DIR/setup-mdbook.log"
mkdir -p "$CARGO_TARGET_DIR"
nice -n 19 bash scripts/setup-mdbook.sh >"$mdbook_log" 2>&1 &
mdbook_setup=$!
step "setup (Rust target)" bash scripts/setup.sh rust
# The rest of the set-up (the simulator's virtualenv, the Python and JavaScript toolchains, Debian
# packages) waits on downloads, and the Python and JavaScript plugins are cached after their first
# build: both run beside the Rust builds, which need the CPU. Their output is shown when they end.
tools_log="$CARGO_TARGET_DIR/setup-tools.log"
(CORTADO_MDBOOK_LATER=1 bash scripts/setup.sh tools && bash scripts/build-plugin-langs.sh) >"$tools_log" 2>&1 &
tools=$!
step "plugins (wasm32-wasip2)" bash scripts/build-plugins.sh
# Every test binary is built first, then they run several at a time (scripts/run-tests.py: each
# end-to-end binary starts its own simulator, and most of its time is spent waiting on it). Options
# before `--` go to cargo, what follows it to every test binary (--test-threads, --exact, ...).
# A bare word (not an option's value) is a test name filter, as with `cargo test deploy`.
cargo_args=() harness_args=() filter=()
while (($#)); do
  case "$1" in
    --) shift; harness_args=("$@"); break ;;
    -p | --package | --test | --bin | --exclude | -F | --features | -j | --jobs | --profile | --target)
      cargo_args+=("$1" "${2:?"$1 needs a value"}"); shift 2 ;;
    -*) cargo_args+=("$1"); shift ;;
    *) filter+=("$1"); shift ;;
  esac
done
harness_args=("${filter[@]}" "${harness_args[@]}")
artifacts="$CARGO_TARGET_DIR/test-artifacts.json"
# The default members' test targets: the cortado binary (cargo builds it for the host's integration
# tests), the e2e binary, the unit tests. The host library's test build runs beside its normal one,
# in the shadow of that one long compile (measured: moved out, it only lengthened the test step). The
# SDK's and first-party plugins' own tests (natively; their component glue is wasm-only) are compiled
# and run as a job beside the end-to-end processes, which mostly wait on their simulators; one cargo
# invocation of their own, so that they never change the features the host's dependencies get.
host_tests=$(for f in host/tests/*.rs host/tests/*/main.rs; do
  [ -e "$f" ] || continue
  case "$f" in */main.rs) f=${f%/main.rs} ;; esac
  printf -- '--test %s ' "$(basename "$f" .rs)"
done)
plugin_crates="-p cortado-plugin-sdk -p cortado-plugin-ssm -p cortado-plugin-secretsmanager -p cortado-plugin-cloudformation
  -p cortado-plugin-tfstate -p cortado-plugin-image-policy -p cortado-plugin-change-freeze -p cortado-plugin-canary-analysis"
build_tests() {
  # shellcheck disable=SC2086 # one word a flag
  cargo test --no-run --message-format=json-render-diagnostics --lib --bins --test e2e $host_tests "${cargo_args[@]}" >"$artifacts"
}
step "build (cortado, end-to-end tests)" build_tests
tools_done() { wait "$tools" && cat "$tools_log" >&2; }
step "setup, Python/JS plugins (beside)" tools_done || {
  cat "$tools_log" >&2
  echo "test: set-up or the Python/JavaScript plugins failed (scripts/setup.sh tools, scripts/build-plugin-langs.sh)" >&2
  exit 1
}
# The tests' shared compile cache (tests/src/lib.rs `shared_cache`) gets one Python and one JavaScript
# component first, compiled alone (each compile uses both cores): the functions they share with every
# other component of their toolchain are then compiled once, instead of by several test processes at
# once before any of them has kept its functions (host/src/plugin/fn_cache.rs). Quick when cached.
warm_compile_cache() {
  local dir lang wasm
  dir=$(mktemp -d)
  {
    printf 'region: us-east-1\ntask_definition: td.json\nplugins:\n'
    for lang in py js; do
      wasm="$CARGO_TARGET_DIR/wasm32-wasip2/$lang/spin.wasm"
      printf '  - name: spin-%s\n    func_prefix: %s_\n    path: %s\n    sha256: %s\n' "$lang" "$lang" "$wasm" "$(sha256sum "$wasm" | cut -d' ' -f1)"
    done
  } >"$dir/cortado.yml"
  echo '{}' >"$dir/td.json"
  (cd "$dir" && CORTADO_CACHE_DIR="$CARGO_TARGET_DIR/test-cache/components" XDG_CONFIG_HOME="$CARGO_TARGET_DIR/test-cache/config" \
    "$CARGO_TARGET_DIR/debug/cortado" plugin list >/dev/null) || { rm -rf "$dir"; return 1; }
  rm -rf "$dir"
}
((${#harness_args[@]})) || step "compile cache (Python, JS)" warm_compile_cache
# ecspresso's own test data runs beside them, as black-box cases against the binary just built, when
# ../shared is beside the repository (required with CI=true; a plain clone skips it and says why).
# plugin_authors' and faults' tests are long: each gets a process of its own.
step "tests" python3 scripts/run-tests.py "$artifacts" --split e2e --each plugin_authors --each faults \
  --cargo "SDK and plugin tests, doctests" "$plugin_crates ${cargo_args[*]}" \
  --job "ecspresso conformance" "bash scripts/conformance.sh $CARGO_TARGET_DIR/debug/cortado" -- "${harness_args[@]}"
# The manual: tests/tests/docs.rs has compared its command reference with --help and checked its
# links; here mdBook builds it (into the target directory; `mdbook build docs` by hand writes docs/book).
step "wait for mdbook" wait "$mdbook_setup" || { cat "$mdbook_log" >&2; echo "test: installing mdbook failed (scripts/setup-mdbook.sh)" >&2; exit 1; }
book() { "$CORTADO_MDBOOK" build --dest-dir "$CARGO_TARGET_DIR/book" docs >"$CARGO_TARGET_DIR/book.log" 2>&1 || { cat "$CARGO_TARGET_DIR/book.log" >&2; return 1; }; }
step "manual (mdbook build)" book
