# Shared by scripts/run and scripts/test: make sure what the build needs is
# installed, from the project's own files, on a fresh Debian 12 machine.

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      echo "cargo not found: install the Rust toolchain (https://rustup.rs) and re-run." >&2
      exit 1
    fi
  fi
  # clippy and rustfmt ship with rustup's default profile; add them if a
  # minimal profile left them out.
  if ! cargo clippy --version >/dev/null 2>&1 || ! cargo fmt --version >/dev/null 2>&1; then
    rustup component add clippy rustfmt
  fi
  # A C compiler for crates with C parts (later: SQLite).
  if ! command -v cc >/dev/null 2>&1; then
    apt_install build-essential
  fi
}

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}
