#!/usr/bin/env bash
# Creates .venv (Python 3.12: layout, verification, simulation) and .venv-train
# (Python 3.11 + the local CPU PyTorch wheel: training), and installs the Debian packages
# the flow needs. Idempotent: an environment whose inputs did not change is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(ngspice libngspice0 espeak-ng sox)

say() { printf '[setup] %s\n' "$*"; }
die() { printf 'make setup: %s\n' "$*" >&2; exit 1; }

# --- system packages -----------------------------------------------------------------
missing=()
for package in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ]; then apt_cmd=(apt-get)
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then apt_cmd=(sudo apt-get)
    else die "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}"
    fi
    say "installing Debian packages: ${missing[*]}"
    "${apt_cmd[@]}" update -qq || die "apt-get update failed; install by hand: apt-get install -y ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive "${apt_cmd[@]}" install -y -qq "${missing[@]}" >/dev/null \
        || die "apt-get install failed for: ${missing[*]}; install them by hand and rerun make setup"
fi

# --- interpreters ----------------------------------------------------------------------
find_python() {  # $1 = minor version, e.g. 3.12
    local candidate
    for candidate in "python$1" "$(command -v pyenv >/dev/null && pyenv root)/versions/$1"*/bin/"python$1" \
                     /root/.pyenv/versions/"$1"*/bin/"python$1" /usr/bin/"python$1" /usr/local/bin/"python$1"; do
        if [ -n "$candidate" ] && "$candidate" -c 'import venv' >/dev/null 2>&1; then
            command -v "$candidate" || echo "$candidate"; return 0
        fi
    done
    return 1
}
PY312=$(find_python 3.12) || die "Python 3.12 not found (needed by klayout-pex); install python3.12 and rerun"
PY311=$(find_python 3.11) || die "Python 3.11 not found (needed for the local PyTorch CPU wheel); install python3.11 and rerun"

stamp() { cat pyproject.toml "$1" scripts/setup.sh | sha256sum | cut -c1-16; }

make_venv() {  # $1 dir, $2 python, $3 constraints file, rest: pip arguments
    local dir=$1 python=$2 constraints=$3; shift 3
    if [ -f "$dir/.setup-stamp" ] && [ "$(cat "$dir/.setup-stamp")" = "$(stamp "$constraints")" ]; then
        say "$dir is up to date"; return 0
    fi
    say "creating $dir with $("$python" --version)"
    rm -rf "$dir"
    "$python" -m venv "$dir"
    "$dir/bin/pip" install -q --upgrade pip >/dev/null
    "$dir/bin/pip" install -q -c "$constraints" "$@"
    stamp "$constraints" > "$dir/.setup-stamp"
}

make_venv .venv "$PY312" constraints.txt -e ".[eda,dev]"
make_venv .venv-train "$PY311" constraints-train.txt -e ".[train,dev]"

say "checking the tools"
.venv/bin/python -c "import klayout.db, gdsfactory, PySpice, librosa, numpy" || die "the .venv imports failed"
.venv-train/bin/python -c "import torch, librosa" || die "the .venv-train imports failed"
command -v ngspice >/dev/null || die "ngspice not on PATH after install"
say "done"
