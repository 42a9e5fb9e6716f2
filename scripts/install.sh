#!/usr/bin/env bash
# Installs a released cortado binary: used by the GitHub Action (action.yml) and usable by hand.
#   CORTADO_VERSION   a release version (0.1.0 or v0.1.0), or `latest`            [latest]
#   CORTADO_BASE_URL  where releases live: <base>/v<version>/<asset>, <base>/latest/<asset>
#                     (a GitHub repository's .../releases/download, whose latest release GitHub
#                     serves at .../releases/latest/download/<asset>; file:// works for tests)
#   CORTADO_SHA256    the asset's expected sha256 (optional; refused when it differs)
#   CORTADO_INSTALL_DIR  where the binary goes                                      [~/.local/bin]
# The asset is cortado-<target>.tar.gz holding `cortado`, with <target> one of
# x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu, x86_64-apple-darwin, aarch64-apple-darwin.
# When GITHUB_PATH is set the install directory is added to it.
set -euo pipefail

die() { echo "install: $*" >&2; exit 1; }

target() {
  local os arch
  case "${CORTADO_OS:-$(uname -s)}" in
    Linux) os=unknown-linux-gnu ;;
    Darwin) os=apple-darwin ;;
    *) die "unsupported OS $(uname -s): Linux and macOS runners only" ;;
  esac
  case "${CORTADO_ARCH:-$(uname -m)}" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) die "unsupported architecture $(uname -m)" ;;
  esac
  echo "$arch-$os"
}

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1; }

tmp=""
main() {
  local version="${CORTADO_VERSION:-latest}" base="${CORTADO_BASE_URL:?CORTADO_BASE_URL is required}"
  local dir="${CORTADO_INSTALL_DIR:-$HOME/.local/bin}" asset url
  asset="cortado-$(target).tar.gz"
  case "$version" in
    latest)
      case "$base" in
        */releases/download) url="${base%/download}/latest/download/$asset" ;;
        *) url="$base/latest/$asset" ;;
      esac ;;
    v*) url="$base/$version/$asset" ;;
    [0-9]*) url="$base/v$version/$asset" ;;
    *) die "CORTADO_VERSION $version: use a version (0.1.0) or latest" ;;
  esac
  tmp="$(mktemp -d)"
  trap 'rm -rf "${tmp:-}"' EXIT
  echo "install: fetching $url" >&2
  curl --fail --silent --show-error --location --retry 3 -o "$tmp/$asset" "$url" || die "cannot download $url"
  if [ -n "${CORTADO_SHA256:-}" ]; then
    local got
    got="$(sha256 "$tmp/$asset")"
    [ "$got" = "$CORTADO_SHA256" ] || die "$asset has sha256 $got, expected $CORTADO_SHA256"
  fi
  tar -xzf "$tmp/$asset" -C "$tmp" cortado || die "$asset holds no cortado binary"
  mkdir -p "$dir"
  install -m 0755 "$tmp/cortado" "$dir/cortado"
  "$dir/cortado" version >&2 || die "the installed $dir/cortado does not run"
  if [ -n "${GITHUB_PATH:-}" ]; then echo "$dir" >> "$GITHUB_PATH"; fi
  echo "$dir/cortado"
}

main "$@"
