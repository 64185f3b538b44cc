#!/usr/bin/env bash
# Install Debian's headless browser for the browser CORS test
# (tests/interop/cors_browser.py): the `chromium` and `chromium-driver`
# packages, i.e. /usr/bin/chromium and /usr/bin/chromedriver.
#
# Idempotent: when both binaries are already there it installs nothing and
# only prints their versions. Otherwise it runs
#   apt-get install -y --no-install-recommends chromium chromium-driver
# and, only if that fails (e.g. stale or empty package lists), `apt-get update`
# once and the install again. Uses sudo only when not running as root.
#
# Usage: scripts/chromium.sh
# Exit:  0 with both binaries present (versions printed), 1 otherwise.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
PACKAGES=(chromium chromium-driver)

die() {
    echo "chromium.sh: $*" >&2
    exit 1
}

have_both() {
    [[ -x "${CHROMIUM}" && -x "${CHROMEDRIVER}" ]]
}

if ! have_both; then
    SUDO=()
    if [[ "$(id -u)" != "0" ]]; then
        command -v sudo >/dev/null 2>&1 \
            || die "not root and no sudo: cannot install ${PACKAGES[*]}"
        SUDO=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not found: install ${PACKAGES[*]} (Debian packages) by hand"

    install() {
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${PACKAGES[@]}"
    }

    echo "chromium.sh: installing ${PACKAGES[*]}"
    if ! install; then
        echo "chromium.sh: install failed; running apt-get update and retrying"
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update \
            || die "apt-get update failed"
        install || die "apt-get install ${PACKAGES[*]} failed"
    fi
    have_both || die "installed ${PACKAGES[*]} but ${CHROMIUM} or ${CHROMEDRIVER} is missing"
fi

# Both print one line; chromium's --version needs no display and no sandbox.
"${CHROMIUM}" --version || die "${CHROMIUM} --version failed"
"${CHROMEDRIVER}" --version || die "${CHROMEDRIVER} --version failed"
