"""The ``bmru-fq/1`` weights format (CONTRACT.md section 1): load, validate, save.

A network is plain, immutable data (:class:`Network`, :class:`Layer`, :class:`Meta`).
Every check names the offending key, so a user can fix the file without reading code.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bmru.cli import atomic_write

FORMAT = "bmru-fq/1"
LAYER_FIELDS = ("W_c", "b_c", "beta1", "delta", "alpha", "s0", "W_o", "b_o")
TOP_FIELDS = ("format", "W_in", "b_in", "W_out", "b_out", "meta")
_LAYER_KEY = re.compile(r"^(" + "|".join(LAYER_FIELDS) + r")(\d+)$")

DEFAULT_UNIT_CURRENT_A = 1e-9
DEFAULT_FRAME_PERIOD_S = 0.01


class WeightsError(ValueError):
    """A weights file or network that does not satisfy ``bmru-fq/1``; the message names the key."""


@dataclass(frozen=True)
class Meta:
    unit_current_A: float = DEFAULT_UNIT_CURRENT_A
    frame_period_s: float = DEFAULT_FRAME_PERIOD_S
    classes: tuple[str, ...] = ()
    task: str | None = None
    features: str | dict | None = None
    extra: dict = field(default_factory=dict)  # any other meta keys, kept verbatim

    def to_json(self) -> str:
        data = dict(self.extra)
        data.update(unit_current_A=self.unit_current_A, frame_period_s=self.frame_period_s,
                    classes=list(self.classes))
        if self.task is not None:
            data["task"] = self.task
        if self.features is not None:
            data["features"] = self.features
        return json.dumps(data, sort_keys=True)


@dataclass(frozen=True, eq=False)
class Layer:
    """One BMRU layer: candidate projection, per-cell thresholds and gain, post-projection."""

    W_c: np.ndarray  # (N, D)
    b_c: np.ndarray  # (N,)
    beta1: np.ndarray  # (N,) reset threshold
    delta: np.ndarray  # (N,) hysteresis width
    alpha: np.ndarray  # (N,) output current of a set cell
    s0: np.ndarray  # (N,) initial state, 0/1
    W_o: np.ndarray  # (D, N)
    b_o: np.ndarray  # (D,)

    @property
    def beta2(self) -> np.ndarray:
        return self.beta1 + self.delta

    @property
    def cells(self) -> int:
        return self.W_c.shape[0]


@dataclass(frozen=True, eq=False)
class Network:
    W_in: np.ndarray  # (D, n_in)
    b_in: np.ndarray  # (D,)
    layers: tuple[Layer, ...]
    W_out: np.ndarray  # (C, D)
    b_out: np.ndarray  # (C,)
    meta: Meta

    @property
    def n_in(self) -> int:
        return self.W_in.shape[1]

    @property
    def width(self) -> int:
        return self.W_in.shape[0]

    @property
    def classes(self) -> int:
        return self.W_out.shape[0]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The archive's key → array mapping (the exact ``bmru-fq/1`` key set)."""
        arrays: dict[str, np.ndarray] = {
            "format": np.array(FORMAT),
            "W_in": self.W_in, "b_in": self.b_in, "W_out": self.W_out, "b_out": self.b_out,
            "meta": np.array(self.meta.to_json()),
        }
        for index, layer in enumerate(self.layers):
            for name in LAYER_FIELDS:
                arrays[f"{name}{index}"] = getattr(layer, name)
        return arrays


# --------------------------------------------------------------------------------------
# validation


def _numeric(key: str, value) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise WeightsError(f"{key}: expected a real numeric array, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise WeightsError(f"{key}: contains a non-finite value (NaN or inf) at index {tuple(int(i) for i in bad)}")
    array.setflags(write=False)
    return array


def _shape(key: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
    if array.shape != shape:
        raise WeightsError(f"{key}: expected shape {shape}, got {array.shape}")


def _matrix(key: str, value) -> np.ndarray:
    array = _numeric(key, value)
    if array.ndim != 2 or 0 in array.shape:
        raise WeightsError(f"{key}: expected a non-empty 2-D matrix, got shape {array.shape}")
    return array


def _positive(key: str, array: np.ndarray) -> None:
    if np.any(array <= 0):
        index = int(np.argmax(array <= 0))
        raise WeightsError(f"{key}: must be > 0 everywhere, got {array[index]!r} at index {index}")


def _parse_meta(value) -> Meta:
    text = np.asarray(value)
    if text.dtype.kind != "U" or text.shape != ():
        raise WeightsError(f"meta: expected a 0-d string holding JSON, got dtype {text.dtype} shape {text.shape}")
    try:
        data = json.loads(str(text))
    except json.JSONDecodeError as error:
        raise WeightsError(f"meta: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise WeightsError("meta: the JSON must be an object")
    data = dict(data)
    unit = data.pop("unit_current_A", DEFAULT_UNIT_CURRENT_A)
    period = data.pop("frame_period_s", DEFAULT_FRAME_PERIOD_S)
    classes = data.pop("classes", None)
    task = data.pop("task", None)
    features = data.pop("features", None)
    for name, number in (("unit_current_A", unit), ("frame_period_s", period)):
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not np.isfinite(number) or number <= 0:
            raise WeightsError(f"meta.{name}: must be a positive number, got {number!r}")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise WeightsError(f"meta.classes: must be a list of class names, got {classes!r}")
    if task is not None and not isinstance(task, str):
        raise WeightsError(f"meta.task: must be a string, got {task!r}")
    return Meta(float(unit), float(period), tuple(classes), task, features, data)


def validate(arrays: dict[str, np.ndarray]) -> Network:
    """Check a key → array mapping against ``bmru-fq/1`` and build a :class:`Network`."""
    for key in TOP_FIELDS:
        if key not in arrays:
            raise WeightsError(f"{key}: missing key")
    fmt = np.asarray(arrays["format"])
    if fmt.dtype.kind != "U" or fmt.shape != () or str(fmt) != FORMAT:
        raise WeightsError(f"format: expected {FORMAT!r}, got {fmt!r}")

    layer_ids: dict[int, set[str]] = {}
    for key in arrays:
        if key in TOP_FIELDS:
            continue
        match = _LAYER_KEY.match(key)
        if not match or (len(match.group(2)) > 1 and match.group(2).startswith("0")):
            raise WeightsError(f"{key}: unknown key (expected {', '.join(TOP_FIELDS)} or "
                               f"{'/'.join(LAYER_FIELDS)} followed by a layer number)")
        layer_ids.setdefault(int(match.group(2)), set()).add(match.group(1))
    if not layer_ids:
        raise WeightsError(f"{LAYER_FIELDS[0]}0: missing key (the network needs at least one BMRU layer)")
    for index in range(max(layer_ids) + 1):
        present = layer_ids.get(index, set())
        for name in LAYER_FIELDS:
            if name not in present:
                raise WeightsError(f"{name}{index}: missing key (layers must run 0..{max(layer_ids)} with no gaps)")

    W_in = _matrix("W_in", arrays["W_in"])
    width = W_in.shape[0]
    b_in = _numeric("b_in", arrays["b_in"])
    _shape("b_in", b_in, (width,))
    layers = []
    for index in range(len(layer_ids)):
        def get(name: str) -> np.ndarray:
            return _numeric(f"{name}{index}", arrays[f"{name}{index}"])

        W_c = _matrix(f"W_c{index}", arrays[f"W_c{index}"])
        cells = W_c.shape[0]
        if W_c.shape[1] != width:
            raise WeightsError(f"W_c{index}: expected {width} columns (the model width D, from W_in), got shape {W_c.shape}")
        vectors = {name: get(name) for name in ("b_c", "beta1", "delta", "alpha", "s0")}
        for name, vector in vectors.items():
            _shape(f"{name}{index}", vector, (cells,))
        for name in ("beta1", "delta", "alpha"):
            _positive(f"{name}{index}", vectors[name])
        if not np.all((vectors["s0"] == 0) | (vectors["s0"] == 1)):
            raise WeightsError(f"s0{index}: initial states must be 0 or 1, got {vectors['s0'].tolist()}")
        W_o = get("W_o")
        _shape(f"W_o{index}", W_o, (width, cells))
        b_o = get("b_o")
        _shape(f"b_o{index}", b_o, (width,))
        layers.append(Layer(W_c, vectors["b_c"], vectors["beta1"], vectors["delta"], vectors["alpha"],
                            vectors["s0"], W_o, b_o))
    W_out = _matrix("W_out", arrays["W_out"])
    if W_out.shape[1] != width:
        raise WeightsError(f"W_out: expected {width} columns (the model width D), got shape {W_out.shape}")
    b_out = _numeric("b_out", arrays["b_out"])
    _shape("b_out", b_out, (W_out.shape[0],))
    meta = _parse_meta(arrays["meta"])
    if meta.classes and len(meta.classes) != W_out.shape[0]:
        raise WeightsError(f"meta.classes: {len(meta.classes)} names for {W_out.shape[0]} classes (rows of W_out)")
    if not meta.classes:
        meta = Meta(meta.unit_current_A, meta.frame_period_s, tuple(f"class{i}" for i in range(W_out.shape[0])),
                    meta.task, meta.features, meta.extra)
    return Network(W_in, b_in, tuple(layers), W_out, b_out, meta)


# --------------------------------------------------------------------------------------
# files


def load_weights(path: str | os.PathLike) -> Network:
    """Read and validate a ``bmru-fq/1`` archive. Raises :class:`WeightsError` naming the bad key."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {}
            for key in archive.files:
                try:
                    arrays[key] = archive[key]
                except ValueError as error:  # object arrays need pickle, which we refuse
                    raise WeightsError(f"{key}: cannot be read without pickle ({error}); store plain arrays") from None
    except WeightsError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise WeightsError(f"{path}: not a readable .npz archive ({error})") from None
    return validate(arrays)


# numpy.savez stamps each member with the current time; a fixed stamp makes the same arrays
# give the same bytes (the documented training command reproduces the shipped files exactly).
_NPZ_DATE = (1980, 1, 1, 0, 0, 0)


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray], compressed: bool = False) -> None:
    """Write ``arrays`` as an ``.npz`` that ``numpy.load`` reads, atomically and byte-deterministically."""

    def write(tmp: str) -> None:
        compression = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
        with zipfile.ZipFile(tmp, "w", compression=compression) as archive:
            for key, value in arrays.items():
                info = zipfile.ZipInfo(f"{key}.npy", date_time=_NPZ_DATE)
                info.compress_type = compression
                info.external_attr = 0o644 << 16
                with archive.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)

    atomic_write(path, write)


def save_weights(path: str | os.PathLike, net: Network | dict) -> None:
    """Validate then write ``net`` (a :class:`Network` or a key → array dict) atomically."""
    network = net if isinstance(net, Network) else validate(net)
    arrays = validate(network.to_arrays()).to_arrays()  # re-validate: a Network can be built by hand
    write_npz(path, arrays)
