# Shared set-up for scripts/run and scripts/test: installs what a fresh Debian/Ubuntu machine
# lacks, and does nothing for what is already there.

# Runs a command as root, through sudo when we are not root already.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the given Debian packages that are not installed yet.
ensure_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "Installing system packages: ${missing[*]}" >&2
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

# The packages the engine needs to build and to fetch models.
ensure_engine_packages() {
    ensure_apt build-essential pkg-config ca-certificates curl python3 python3-pip
}

# A Rust toolchain through rustup, when cargo is missing.
ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -x "$HOME/.cargo/bin/cargo" ] || curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
}

# rustfmt and clippy, which `scripts/test` runs (rustup's minimal profile leaves them out).
ensure_rust_lint_tools() {
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        rustup component add rustfmt clippy
    fi
}

# The packages the desktop window needs to build, and to be tested under a virtual display.
ensure_desktop_packages() {
    ensure_apt libwebkit2gtk-4.1-dev libxdo-dev libssl-dev librsvg2-dev file
}

ensure_desktop_test_packages() {
    ensure_apt xvfb xauth xdotool xclip webkit2gtk-driver python3-gi gir1.2-gtk-3.0 dbus \
        imagemagick fonts-dejavu-core dbus-x11 at-spi2-core
    ensure_chromium
}

# Chromium for the web UI tests: Debian's, unless CHROMIUM names another (Ubuntu has no
# `chromium` package, only a snap).
ensure_chromium() {
    [ -n "${CHROMIUM:-}" ] && return 0
    ensure_apt chromium || {
        echo "Could not install Debian's chromium package. Install Chromium or Chrome and run again" \
            "with CHROMIUM=/path/to/the/browser." >&2
        return 1
    }
}

# What the installed package's test uses: desktop-file-validate and the desktop database
# (desktop-file-utils), xdg-mime (xdg-utils).
ensure_package_test_packages() {
    ensure_apt desktop-file-utils xdg-utils rpm cpio
}

# Where a newer Node.js goes when the machine's is too old for the UI build.
PRECIS_NODE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/precis-build/node"

# Whether `node` is one the UI build (Vite) runs on: 20.19 or newer in 20, or 22.12 or newer.
node_is_new_enough() {
    local version major minor
    version=$(node --version 2>/dev/null) || return 1
    version=${version#v}
    major=${version%%.*}
    minor=${version#*.}
    minor=${minor%%.*}
    case "$major$minor" in *[!0-9]*|"") return 1 ;; esac
    [ "$major" -gt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 12 ]; } || { [ "$major" -eq 20 ] && [ "$minor" -ge 19 ]; }
}

# Node.js and npm for the web front end: the machine's, else Debian's. Debian 12 and Ubuntu up to
# 24.04 ship an older Node.js than the UI build needs; then a current one comes from the npm
# registry (the `node-linux-<arch>` package is the binary, with no install script) into
# PRECIS_NODE_DIR, ahead on the PATH.
ensure_node() {
    command -v npm >/dev/null 2>&1 || ensure_apt nodejs npm
    local arch
    case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
    local bin="$PRECIS_NODE_DIR/node_modules/node-linux-$arch/bin"
    [ -x "$bin/node" ] && export PATH="$bin:$PATH"
    if ! node_is_new_enough; then
        echo "Node.js $(node --version 2>/dev/null || echo '(none)') is too old for the UI build; installing Node.js 22 into $PRECIS_NODE_DIR" >&2
        mkdir -p "$PRECIS_NODE_DIR"
        npm install --prefix "$PRECIS_NODE_DIR" --no-audit --no-fund --no-save "node-linux-$arch@22"
        export PATH="$bin:$PATH"
        node_is_new_enough || { echo "Could not install a Node.js the UI build runs on (20.19+ or 22.12+)." >&2; return 1; }
    fi
}

# The web front end's packages, installed exactly as locked, only when the lock file changed.
ensure_ui_packages() {
    local stamp=ui/node_modules/.precis-lock
    if [ ! -f "$stamp" ] || ! cmp -s ui/package-lock.json "$stamp"; then
        (cd ui && npm ci --no-audit --no-fund)
        cp ui/package-lock.json "$stamp"
    fi
}
