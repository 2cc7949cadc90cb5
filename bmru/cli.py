"""Shared command-line plumbing: one-line errors naming the bad input (non-zero exit), progress
lines, the default output folder, and files written whole or not at all (:func:`atomic_write`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path


def fail(message: str, code: int = 2) -> None:
    """Print a one-line reason and exit non-zero (nothing has been written when this is called)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


class CommandParser(argparse.ArgumentParser):
    """argparse with one-line errors (``prog: error: reason``): a bad option or choice, such as an
    unknown corner name, is reported like every other bad input, without the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_json(path: str | Path, data: dict) -> None:
    """Write ``data`` as sorted, indented JSON atomically (same data, same bytes)."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"

    def write(tmp: str) -> None:
        Path(tmp).write_text(text)

    atomic_write(path, write)


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``, so no half-written file is ever visible."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def default_out(weights: str | os.PathLike) -> Path:
    """Where a command writes when not told: ``build/<weights stem>/``."""
    return Path("build") / Path(weights).stem
