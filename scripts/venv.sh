#!/usr/bin/env bash
# Create (or reuse) the Python virtualenv for s3crypt's tooling at <repo>/.venv
# and install scripts/python/requirements.txt into it from PyPI.
#
# Idempotent: if .venv/bin/python exists and the requirements file is
# unchanged since the last successful install (sha256 stamp kept in
# .venv/.requirements.sha256), it does nothing.
#
# Usage: scripts/venv.sh            (from anywhere)
#        FORCE=1 scripts/venv.sh    (reinstall even if the stamp matches)
# Env:   PYTHON=python3.11 to pick the interpreter (default: python3)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
VENV="${REPO_ROOT}/.venv"
REQS="${SCRIPT_DIR}/python/requirements.txt"
STAMP="${VENV}/.requirements.sha256"
PYTHON="${PYTHON:-python3}"

if [[ ! -f "${REQS}" ]]; then
    echo "venv.sh: missing ${REQS}" >&2
    exit 1
fi

want="$(sha256sum "${REQS}" | cut -d' ' -f1)"

if [[ "${FORCE:-0}" != "1" && -x "${VENV}/bin/python" && -f "${STAMP}" ]] \
    && [[ "$(cat "${STAMP}")" == "${want}" ]]; then
    echo "venv.sh: ${VENV} is up to date"
    exit 0
fi

if [[ ! -x "${VENV}/bin/python" ]]; then
    echo "venv.sh: creating ${VENV} with $(${PYTHON} --version 2>&1)"
    "${PYTHON}" -m venv "${VENV}"
fi

"${VENV}/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade pip
"${VENV}/bin/python" -m pip install --disable-pip-version-check --quiet -r "${REQS}"

echo "${want}" > "${STAMP}"
echo "venv.sh: installed $(basename "${REQS}") into ${VENV}"
