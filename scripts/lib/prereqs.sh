# Shared by scripts/run and scripts/test: make sure what the build needs is
# installed, from the project's own files, on a fresh Debian 12 machine.

# One build cache for every checkout on this machine (a fresh clone, as CI
# makes, reuses the compiled dependencies instead of rebuilding Tauri and
# the rest from nothing). Set CARGO_TARGET_DIR to build elsewhere.
# Checkouts sharing it share compiled units too (cargo names them by
# workspace-relative path), so: read CARGO_MANIFEST_DIR at run time, never
# with env!() (a reused binary would point at the other checkout); and a
# file edited here before another checkout built the same unit looks up to
# date to cargo (mtimes): touch it. A fresh clone is always newest.
use_build_cache() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/creditdesk/target}"
  mkdir -p "$CARGO_TARGET_DIR"
}

ensure_rust() {
  use_build_cache
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

# PostgreSQL's server binaries (initdb, postgres, pg_ctl, psql) for the test
# tooling (crates/testkit), which starts its own throwaway servers in temp
# dirs on free ports: the tests never use a system cluster. Debian's package
# creates a `main` cluster and tries to start it; a policy-rc.d forbids that
# start during the install (it fails in containers without an init), and the
# cluster is left alone.
ensure_postgres() {
  if postgres_bindir >/dev/null; then
    return 0
  fi
  echo "== installing PostgreSQL (Debian's postgresql package) for the test servers"
  local sudo="" policy=/usr/sbin/policy-rc.d ours=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# creditdesk scripts/lib/prereqs.sh: no service starts during install\nexit 101\n' |
      $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    ours=1
  fi
  local status=0
  apt_install postgresql || status=$?
  if [ -n "$ours" ]; then
    $sudo rm -f "$policy"
  fi
  if ! postgres_bindir >/dev/null; then
    echo "installing Debian's postgresql package failed (apt-get exit $status): install it by hand" \
      "(apt-get install postgresql), or set DATABASE_URL to a PostgreSQL server the tests may use." >&2
    exit 1
  fi
  if [ "$status" -ne 0 ]; then
    # Typically the package's attempt to start its `main` cluster, which the
    # tests do not use.
    echo "apt-get exited $status, but PostgreSQL's server binaries are installed: carrying on." >&2
  fi
  echo "== PostgreSQL server binaries in $(postgres_bindir)"
}

# Prints the newest /usr/lib/postgresql/<version>/bin holding the server
# binaries; fails if there is none.
postgres_bindir() {
  local dir best="" best_version=-1 version
  for dir in /usr/lib/postgresql/*/bin; do
    if [ ! -x "$dir/initdb" ] || [ ! -x "$dir/postgres" ] || [ ! -x "$dir/psql" ]; then
      continue
    fi
    version="${dir#/usr/lib/postgresql/}"
    version="${version%/bin}"
    case "$version" in
      '' | *[!0-9]*) continue ;;
    esac
    if [ "$version" -gt "$best_version" ]; then
      best="$dir"
      best_version="$version"
    fi
  done
  [ -n "$best" ] || return 1
  echo "$best"
}

# The desktop app's build and run dependencies: WebKitGTK 4.1 (Tauri 2 on
# Linux), libxdo (Tauri's menus), pkg-config, Node.js with npm (20.19+ or
# 22.12+: this machine image's NodeSource build; Debian 12's own 18 is too old).
ensure_app_deps() {
  local missing=()
  pkg-config --exists webkit2gtk-4.1 2>/dev/null || missing+=(libwebkit2gtk-4.1-dev)
  [ -e /usr/include/xdo.h ] || missing+=(libxdo-dev)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "== installing ${missing[*]} (the desktop app's build dependencies)"
    apt_install "${missing[@]}"
  fi
  # Vite 7's floor (its package.json `engines`): ^20.19 or >= 22.12. Not
  # installed from Debian: bookworm's nodejs is 18, and its npm would pull it in.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "Node.js and npm are missing: install Node.js 20.19+ or 22.12+ (e.g. from NodeSource) and re-run." >&2
    exit 1
  fi
  if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
                process.exit(a > 22 || (a === 22 && b >= 12) || (a === 20 && b >= 19) ? 0 : 1)'; then
    echo "Node.js $(node --version) is too old for the UI build (Vite 7 needs 20.19+ or 22.12+):" \
      "install a newer nodejs (e.g. from NodeSource) and re-run." >&2
    exit 1
  fi
}

# The UI's npm packages, exactly as locked, when missing or older than the lock.
ensure_ui_packages() {
  if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    echo "== npm ci (ui/)"
    (cd ui && npm ci --no-audit --no-fund)
  fi
}

# What the end-to-end tests drive the app with: Xvfb (a display),
# WebKitWebDriver (Debian's webkit2gtk-driver) and tauri-driver (crates.io).
ensure_e2e_deps() {
  local missing=()
  command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
  command -v WebKitWebDriver >/dev/null 2>&1 || missing+=(webkit2gtk-driver)
  # `import`: the screenshots of the app's window (see tests/src/lib.rs).
  command -v import >/dev/null 2>&1 || missing+=(imagemagick)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "== installing ${missing[*]} (end-to-end test dependencies)"
    apt_install "${missing[@]}"
  fi
  if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
    echo "== cargo install tauri-driver"
    cargo install tauri-driver --locked
  fi
  export PATH="$HOME/.cargo/bin:$PATH"
}
