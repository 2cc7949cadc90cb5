"""Run ngspice in batch mode on a generated deck and read back the saved vectors.

Each run gets its own temporary directory holding the deck and a ``.spiceinit`` with
``set num_threads=1`` (Debian's ngspice uses 2 threads by default, which makes two runs side by
side on two cores crawl). Vectors are written with ``wrdata`` as one shared scale column plus one
column per vector and parsed with NumPy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pdk_sky130_180.devices import SPICE_OPTIONS

NGSPICE = os.environ.get("BMRU_NGSPICE", "ngspice")


class SpiceError(RuntimeError):
    """ngspice failed or produced no data; the message carries the relevant log lines."""


class SpiceStalled(SpiceError):
    """A transient's integration stalled: "timestep too small", or it ended before its stop time."""


@dataclass(frozen=True, eq=False)
class SpiceResult:
    vectors: dict[str, np.ndarray]  # lower-case vector name -> values; the scale is under "scale"
    seconds: float
    log: str

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.vectors[name.lower()]
        except KeyError:
            raise SpiceError(f"ngspice wrote no vector {name}") from None

    @property
    def stop_time(self) -> float:
        """Last time point of a transient (the scale's end)."""
        return float(self.vectors["scale"][-1])


def options_line(**overrides) -> str:
    """The ``.options`` line for pA-accurate simulation (DESIGN.md section 3)."""
    values = dict(SPICE_OPTIONS)
    values.update(overrides)
    parts = [f"{key}={value}" if key != "method" else f"method={value}" for key, value in values.items()]
    return ".options " + " ".join(parts)


def control_block(analysis: str, vectors: list[str], data_file: str = "out.txt") -> str:
    """A ``.control`` block: run ``analysis``, write ``vectors`` with a single scale column."""
    names = " ".join(vectors)
    return "\n".join([
        ".control",
        "set num_threads=1",
        "set wr_singlescale",
        "set wr_vecnames",
        "option numdgt=9",
        analysis,
        f"wrdata {data_file} {names}",
        "quit 0",
        ".endc",
    ])


def _parse_wrdata(path: Path) -> dict[str, np.ndarray]:
    with open(path) as handle:
        header = handle.readline().split()
    data = np.loadtxt(path, skiprows=1, ndmin=2)
    if data.shape[1] != len(header):
        raise SpiceError(f"{path}: {len(header)} column names but {data.shape[1]} columns")
    vectors = {name.lower(): data[:, index] for index, name in enumerate(header)}
    vectors["scale"] = data[:, 0]
    return vectors


def _error_lines(log: str) -> str:
    lines = [line for line in log.splitlines() if "error" in line.lower() or "fatal" in line.lower()]
    return "; ".join(lines[:5]) or log.strip().splitlines()[-1:][0] if log.strip() else "no output"


def run_deck(deck: str, timeout_s: float = 3600.0, keep_dir: str | os.PathLike | None = None,
             data_file: str = "out.txt") -> SpiceResult:
    """Run one deck (full text, including its ``.control`` block writing ``data_file``)."""
    workdir = Path(tempfile.mkdtemp(prefix="bmru_ngspice_"))
    try:
        (workdir / ".spiceinit").write_text("set num_threads=1\n")
        (workdir / "deck.cir").write_text(deck)
        start = time.perf_counter()
        try:
            proc = subprocess.run([NGSPICE, "-b", "deck.cir"], cwd=workdir, capture_output=True, text=True,
                                  timeout=timeout_s, env={**os.environ, "OMP_NUM_THREADS": "1"})
        except FileNotFoundError:
            raise SpiceError(f"{NGSPICE}: ngspice not found on PATH (apt-get install ngspice)") from None
        except subprocess.TimeoutExpired:
            raise SpiceError(f"ngspice: no result after {timeout_s:.0f} s") from None
        seconds = time.perf_counter() - start
        log = proc.stdout + proc.stderr
        data_path = workdir / data_file
        if proc.returncode != 0 or not data_path.is_file():
            stalled = "timestep too small" in log.lower()
            raise (SpiceStalled if stalled else SpiceError)(f"ngspice exited {proc.returncode}: {_error_lines(log)}")
        vectors = _parse_wrdata(data_path)
        return SpiceResult(vectors, seconds, log)
    finally:
        if keep_dir is not None:
            target = Path(keep_dir)
            target.mkdir(parents=True, exist_ok=True)
            for item in workdir.iterdir():
                shutil.copy2(item, target / item.name)
        shutil.rmtree(workdir, ignore_errors=True)
