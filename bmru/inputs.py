"""Input sets: an ``.npz`` with ``x`` (n, T, n_in) features and optionally ``y`` (n,) labels."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class InputsError(ValueError):
    """An inputs file that cannot be used; the message names the key."""


@dataclass(frozen=True, eq=False)
class Inputs:
    x: np.ndarray  # (n, T, n_in) float64
    y: np.ndarray | None  # (n,) int64 labels, when known


def load_inputs(path: str | os.PathLike, n_in: int | None = None, limit: int | None = None,
                classes: int | None = None) -> Inputs:
    """Read and check an inputs archive; ``limit`` keeps the first ``limit`` utterances."""
    path = Path(path)
    if not path.is_file():
        raise InputsError(f"{path}: no such inputs file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive.files:
                raise InputsError(f"{path}: x: missing key (expected x of shape (n, T, n_in))")
            x = archive["x"]
            y = archive["y"] if "y" in archive.files else None
    except InputsError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise InputsError(f"{path}: not a readable .npz archive ({error})") from None
    if x.dtype.kind not in "iuf" or x.ndim != 3 or 0 in x.shape:
        raise InputsError(f"{path}: x: expected a non-empty real array (n, T, n_in), got {x.dtype} {x.shape}")
    if n_in is not None and x.shape[2] != n_in:
        raise InputsError(f"{path}: x: the network has {n_in} inputs, x has {x.shape[2]} features per frame")
    if not np.all(np.isfinite(x)):
        raise InputsError(f"{path}: x: contains NaN or inf")
    if y is not None:
        if y.dtype.kind not in "iu" or y.shape != (x.shape[0],):
            raise InputsError(f"{path}: y: expected integer labels of shape ({x.shape[0]},), got {y.dtype} {y.shape}")
        if classes is not None and (y.min() < 0 or y.max() >= classes):
            raise InputsError(f"{path}: y: labels must lie in 0..{classes - 1}")
        y = y.astype(np.int64)
    if limit is not None:
        if limit < 1:
            raise InputsError(f"N: must be >= 1, got {limit}")
        x = x[:limit]
        y = None if y is None else y[:limit]
    return Inputs(x.astype(np.float64), y)
