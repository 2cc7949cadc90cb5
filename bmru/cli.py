"""Shared command-line plumbing: one-line errors naming the bad input, non-zero exit."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bmru.weights import atomic_write


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
