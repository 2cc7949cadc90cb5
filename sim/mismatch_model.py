"""The same mismatch draws in software: realised parameters, then the NumPy model.

In subthreshold a device's drawn parameter shifts multiply its current, at a fixed gate voltage,
by ``f = exp(sum_p S_p * dp)``; ``S_p = d ln I / d p`` is calibrated here with ngspice on a single
device per geometry (:func:`calibrate`), not guessed. A mirror output of k fingers against a
diode of r fingers then carries ``k/r * f_out / f_diode`` of the diode's current, so every
realised parameter is its nominal value times ``exp(sum of +/- ln f)`` over the devices on its
path (generators/circuit/spice_cells.py):

- weight ``k/4 < 0``: NMOS sink on the source signal's diode ``D``: ``f_out / f_D``;
- weight ``k/4 > 0``: one-finger NMOS converter ``K`` into a one-finger PMOS diode ``P``, then
  the PMOS output: ``f_K / f_D * f_out / f_P``;
- bias: the same against the bias generator's ``Nref`` (and ``Npb``/``Ppb`` for a source);
- cell: ``beta2`` and ``alpha`` are PMOS outputs of the cell's own line (``Kpc`` on ``Nref``,
  diode ``Ppc``), ``delta`` an NMOS output of the global ``nc`` line (``Npb``/``Ppb``/``Pnc``/``Nnc``);
  the candidate reaches the comparator through the cell's ``M1``/``M2`` mirror, so thresholds in
  the candidate's units are divided by ``f_M2 / f_M1``;
- residual skip: ``u_{l+1} = g_y y + g_u u_l`` with converter/PMOS gains ``g``. The model
  computes ``u_{l+1} = y + u``; with ``u_l = D_l * û_l`` (``D_0 = 1``, ``D_{l+1} = g_u D_l``) the
  software network on ``û`` is exact: ``W_c`` and ``W_out`` columns are multiplied by ``D``,
  ``W_o``/``b_o`` rows by ``g_y / D_{l+1}``.

Every realised quantity is ``nominal * exp(A @ ln f)`` with a fixed sparse sign matrix ``A``
(:class:`Plan`), so thousands of samples cost one matrix product plus the model runs.
Not modelled: cascodes, switches, the inverter and the tie sink (``TIE_DEVICE``, ~0.1 of a cell
step whose own mismatch shifts both thresholds by a few thousandths of a unit).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from dataclasses import dataclass

import numpy as np

from bmru.weights import Network, validate
from generators.circuit.mapping import HardwareSpec, quantised_network
from pdk_sky130_180.devices import NFET, PFET, SUPPLY_V
from pdk_sky130_180.mismatch import (PARAMETERS, Draws, Instance, Library, load_library, model_cards,
                                     mosfet_line)
from pdk_sky130_180.models import include_line
from sim.ngspice import control_block, options_line, run_deck

CALIBRATION_CURRENT_A = 0.125e-9  # per finger: a bias-line finger, or one unit of signal into 4 fingers
STEP_SIGMAS = 0.5  # central difference of +/- half a single-finger sigma


class MismatchModelError(ValueError):
    """The circuit lacks a device the software model expects; the message names it."""


# --------------------------------------------------------------------------------------
# sensitivities


Geometry = tuple[str, float, float]  # (model, w_um, l_um)


@dataclass(frozen=True)
class Sensitivities:
    """d ln I / d parameter (columns in ``PARAMETERS`` order) per device geometry."""

    table: dict  # Geometry -> np.ndarray (len(PARAMETERS),)
    current_A: float
    corner: str

    def matrix(self, instances: tuple[Instance, ...]) -> np.ndarray:
        """(devices, parameters); zero rows for geometries that were not calibrated."""
        out = np.zeros((len(instances), len(PARAMETERS)))
        for index, inst in enumerate(instances):
            row = self.table.get((inst.model, inst.w_um, inst.l_um))
            if row is not None:
                out[index] = row
        return out


def _probe_deck(geometries: list[Geometry], library: Library, current_A: float, temperature_C: float,
                card_file: str) -> tuple[str, str, list[tuple[Geometry, int, float]]]:
    """Each geometry: a nominal diode carrying ``current_A`` and probes at its gate (drain held at the
    gate voltage, as the circuit's cascodes hold mirror outputs), one per parameter and sign."""
    instances, body, probes = [], [], []
    for g_index, (model, w, l) in enumerate(geometries):
        sigmas = library.device(model).sigmas(w, l, 1)
        pmos = model == PFET
        gate, drain = f"g{g_index}", f"dr{g_index}"
        supply, bulk = ("vdd", "vdd") if pmos else ("0", "0")
        nominal = Instance(f"n{g_index}", model, w, l, 1)
        body.append(mosfet_line(len(instances), f"d{g_index}", (gate, gate, supply, bulk), nominal))
        instances.append((nominal, {}))
        body.append(f"I{g_index} {gate} 0 {current_A:g}" if pmos else f"I{g_index} 0 {gate} {current_A:g}")
        body.append(f"E{g_index} {drain} 0 {gate} 0 1")
        runs = [(None, 0.0)] + [(p, sign) for p in PARAMETERS if sigmas.get(p, 0.0) > 0 for sign in (-1.0, 1.0)]
        for param, sign in runs:
            inst = Instance(f"p{len(instances)}", model, w, l, 1)
            values = {} if param is None else {param: sign * STEP_SIGMAS * sigmas[param]}
            node = f"x{len(instances)}"
            body.append(f"V{node} {drain} {node} 0")
            body.append(mosfet_line(len(instances), inst.name, (node, gate, supply, bulk), inst))
            probes.append(((model, w, l), len(instances), 0.0 if param is None else sign))
            instances.append((inst, values))
    # cards: nominal plus the probe's offset
    delta = np.zeros((len(instances), len(PARAMETERS)))
    for index, (_, values) in enumerate(instances):
        for param, value in values.items():
            delta[index, PARAMETERS.index(param)] = value
    draws = Draws(0, tuple(inst for inst, _ in instances), delta, np.ones_like(delta))
    cards = model_cards(draws, library)
    vectors = [f"i(vx{index})" for _, index, _ in probes]
    deck = "\n".join([f"* sensitivity probes at {current_A:g} A per finger", include_line(library.corner),
                      f'.include "{card_file}"', options_line(), f".temp {temperature_C:g}",
                      f"Vvdd vdd 0 {SUPPLY_V:g}", *body, control_block("op", vectors), ".end", ""])
    labels = [(geometry, index, sign) for geometry, index, sign in probes]
    return deck, cards, labels


@functools.lru_cache(maxsize=16)
def calibrate(geometries: tuple[Geometry, ...], corner: str = "tt", statistics: str = "mismatch",
              current_A: float = CALIBRATION_CURRENT_A, temperature_C: float = 27.0) -> Sensitivities:
    """One ngspice operating point: ``S_p = (ln I(+h) - ln I(-h)) / 2h`` for every geometry and parameter
    (cached per process)."""
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    library = load_library(corner, statistics)
    geometries = tuple(sorted(set(geometries)))
    with tempfile.TemporaryDirectory(prefix="bmru_mm_cal_") as tmp:
        card_file = str(Path(tmp) / "cards.spice")
        deck, cards, labels = _probe_deck(list(geometries), library, current_A, temperature_C, card_file)
        Path(card_file).write_text(cards)
        result = run_deck(deck)
    currents: dict = {}
    for geometry, index, sign in labels:
        currents.setdefault(geometry, []).append((index, sign, abs(float(result[f"i(vx{index})"][0]))))
    table = {}
    for geometry in geometries:
        model, w, l = geometry
        sigmas = library.device(model).sigmas(w, l, 1)
        rows = currents[geometry]
        row = np.zeros(len(PARAMETERS))
        varied = [p for p in PARAMETERS if sigmas.get(p, 0.0) > 0]
        # probes were written nominal, then (-, +) per varied parameter in PARAMETERS order
        for k, param in enumerate(varied):
            minus, plus = rows[1 + 2 * k][2], rows[2 + 2 * k][2]
            row[PARAMETERS.index(param)] = (np.log(plus) - np.log(minus)) / (2 * STEP_SIGMAS * sigmas[param])
        table[geometry] = row
    return Sensitivities(table, current_A, library.corner)


# --------------------------------------------------------------------------------------
# the plan: which devices each realised parameter depends on


@dataclass(frozen=True, eq=False)
class Plan:
    """Realised quantity q = nominal[q] * exp(A[q] @ ln f); ``slots`` say where q goes."""

    slots: tuple[tuple[str, tuple[int, ...]], ...]  # (array key, index) per quantity
    nominal: np.ndarray  # (Q,)
    A: np.ndarray  # (Q, devices) in {-1, 0, +1} (sums when a device appears twice)
    geometries: tuple[Geometry, ...]  # the devices that any quantity depends on

    def log_gains(self, log_f: np.ndarray) -> np.ndarray:
        """(samples, Q) ln(q / nominal) from (samples, devices) ln f."""
        return log_f @ self.A.T


def _signal_sources(spec: HardwareSpec) -> dict[str, str]:
    """Flat name prefix of the receiver each projection reads its columns from."""
    out = {"in": "rx_in/", "out": f"rx_u{spec.layers}/"}
    for layer in range(spec.layers):
        out[f"c{layer}"] = f"rx_u{layer}/"
        out[f"o{layer}"] = f"layer{layer}/rx_h{layer}/"
    return out


def _projection_prefix(name: str) -> str:
    if name in ("in", "out"):
        return f"fc_{name}/"
    return f"layer{name[1:]}/fc_{name}/"


def build_plan(spec: HardwareSpec, instances: tuple[Instance, ...]) -> Plan:
    index = {inst.name: i for i, inst in enumerate(instances)}
    slots, nominal, rows = [], [], []

    def dev(name: str) -> int:
        if name not in index:
            raise MismatchModelError(f"{name}: device missing from the flattened circuit")
        return index[name]

    def add(key: str, where: tuple[int, ...], value: float, path: list[tuple[str, int]]) -> None:
        row = np.zeros(len(instances))
        for name, sign in path:
            row[dev(name)] += sign
        slots.append((key, where))
        nominal.append(value)
        rows.append(row)

    bias_source = [("bias/npb", 1), ("bias/nref", -1), ("bias/ppb", -1)]
    sources = _signal_sources(spec)
    for projection in spec.projections:
        prefix, rx = _projection_prefix(projection.name), sources[projection.name]
        for i, row in enumerate(projection.weight_fingers):
            for j, k in enumerate(row):
                if k == 0:
                    continue
                out = f"{prefix}w_{projection.weight_key[2:].lower()}_r{i}_c{j}"
                path = [(out, 1), (f"{rx}d{j}", -1)]
                if k > 0:
                    path += [(f"{rx}k{j}", 1), (f"{rx}p{j}", -1)]
                add(projection.weight_key, (i, j), k * spec.weight_step, path)
            k = projection.bias_fingers[i]
            if k != 0:
                out = f"{prefix}b_{projection.bias_key[2:].lower()}_r{i}"
                path = [(out, 1)] + (bias_source if k > 0 else [("bias/nref", -1)])
                add(projection.bias_key, (i,), k * spec.bias_step, path)
    for cell in spec.cells:
        c = f"layer{cell.layer}/cell{cell.index}/"
        to_c = [(f"{c}m1", 1), (f"{c}m2", -1)]  # thresholds seen from the candidate node
        line = [(f"{c}kpc", 1), ("bias/nref", -1), (f"{c}ppc", -1)]
        nc = bias_source + [("bias/pnc", 1), ("bias/nnc", -1)]
        add(f"beta2{cell.layer}", (cell.index,), cell.beta2_fingers * spec.cell_step, line + [(f"{c}beta2", 1)] + to_c)
        add(f"delta{cell.layer}", (cell.index,), cell.delta_fingers * spec.cell_step, nc + [(f"{c}delta", 1)] + to_c)
        add(f"alpha{cell.layer}", (cell.index,), cell.alpha_fingers * spec.cell_step, line + [(f"{c}alpha", 1)])
    for layer in range(spec.layers):
        y, u, res = f"layer{layer}/rx_y{layer}/", f"rx_u{layer}/", f"layer{layer}/res{layer}/"
        for i in range(spec.width):
            add(f"g_y{layer}", (i,), 1.0, [(f"{y}k{i}", 1), (f"{y}d{i}", -1), (f"{res}r_y{i}", 1), (f"{y}p{i}", -1)])
            add(f"g_u{layer}", (i,), 1.0, [(f"{u}k{i}", 1), (f"{u}d{i}", -1), (f"{res}r_u{i}", 1), (f"{u}p{i}", -1)])
    A = np.array(rows)
    used = np.flatnonzero(np.any(A != 0, axis=0))
    geometries = tuple(sorted({(instances[i].model, instances[i].w_um, instances[i].l_um) for i in used}))
    return Plan(tuple(slots), np.array(nominal), A, geometries)


# --------------------------------------------------------------------------------------
# realised networks


def _arrays_from_gains(spec: HardwareSpec, plan: Plan, gains: np.ndarray) -> dict[str, np.ndarray]:
    nominal = quantised_network(spec).to_arrays()
    arrays = {key: np.array(value, dtype=np.float64) if value.dtype.kind == "f" else value
              for key, value in nominal.items()}
    for layer in range(spec.layers):
        arrays[f"beta2{layer}"] = arrays[f"beta1{layer}"] + arrays[f"delta{layer}"]
        arrays[f"g_y{layer}"] = np.ones(spec.width)
        arrays[f"g_u{layer}"] = np.ones(spec.width)
    values = plan.nominal * gains
    for (key, where), value in zip(plan.slots, values):
        arrays[key][where] = value
    return arrays


def realised_network(spec: HardwareSpec, plan: Plan, log_gains: np.ndarray) -> Network:
    """The software network whose behaviour is the circuit's under one sample's ``log_gains`` (Q,)."""
    arrays = _arrays_from_gains(spec, plan, np.exp(log_gains))
    scale = np.ones(spec.width)  # D_l: the true u_l is scale * (the model's u_l)
    beta1_true = {}
    for layer in range(spec.layers):
        arrays[f"W_c{layer}"] = arrays[f"W_c{layer}"] * scale[None, :]
        beta1 = arrays.pop(f"beta2{layer}") - arrays[f"delta{layer}"]
        beta1_true[layer] = beta1
        # delta > beta2 means the cell can never reset (hold whenever not set); validate wants a
        # positive value, the true (negative) one is put back below
        arrays[f"beta1{layer}"] = np.where(beta1 > 0, beta1, 1e-12)
        g_y, g_u = arrays.pop(f"g_y{layer}"), arrays.pop(f"g_u{layer}")
        scale = g_u * scale
        arrays[f"W_o{layer}"] = arrays[f"W_o{layer}"] * (g_y / scale)[:, None]
        arrays[f"b_o{layer}"] = arrays[f"b_o{layer}"] * (g_y / scale)
    arrays["W_out"] = arrays["W_out"] * scale[None, :]
    net = validate(arrays)
    layers = tuple(dataclasses.replace(layer, beta1=beta1_true[index]) if np.any(beta1_true[index] <= 0) else layer
                   for index, layer in enumerate(net.layers))
    return dataclasses.replace(net, layers=layers)


def log_factors(z: np.ndarray, sigma: np.ndarray, sensitivities: np.ndarray) -> np.ndarray:
    """ln f per device: (..., devices, parameters) draws -> (..., devices)."""
    return np.sum(z * sigma * sensitivities, axis=-1)


__all__ = ["Sensitivities", "calibrate", "Plan", "build_plan", "realised_network", "log_factors"]


# --------------------------------------------------------------------------------------
# sizing what-if and the statistics that training draws from


# a learned parameter's own output device (a weight or bias mirror output, a cell's beta2, delta
# or alpha source); every other matched device is shared (signal diodes, converters, lines)
PROJECTION_OUTPUT = r"(^|/)fc_[a-z0-9]+/[wb]_[a-z0-9]+_r\d+(_c\d+)?$"  # a weight's or bias's mirror output
OUTPUT_DEVICE = re.compile(rf"{PROJECTION_OUTPUT}|/cell\d+/(beta2|delta|alpha)$")


def scale_matched_devices(instances: tuple[Instance, ...], factor: float, unit_l_um: float,
                          shared_factor: float | None = None,
                          shared_min_area_um2: float | None = None) -> tuple[Instance, ...]:
    """The same circuit with every matched device (gate length ``unit_l_um``: mirrors, lines,
    cell sources) ``factor`` times wider and longer (area x factor^2, same W/L, same currents);
    with ``shared_factor``, the shared devices (not a parameter's own output) take that factor
    instead. ``shared_min_area_um2`` then grows each device of a shared role (signal diodes and
    converters, bias and cell lines, residual copies: the ones whose error every parameter on
    their path shares) to at least that gate area W x L x m; cascodes and the rest keep theirs.
    A what-if for sizing: the schematic and layout themselves are not redrawn."""
    shared_factor = factor if shared_factor is None else shared_factor
    for name, value in (("unit scale", factor), ("shared scale", shared_factor),
                        ("shared minimum area", 1.0 if shared_min_area_um2 is None else shared_min_area_um2)):
        if not value > 0:
            raise MismatchModelError(f"{name}: must be positive, got {value!r}")
    if factor == 1.0 and shared_factor == 1.0 and shared_min_area_um2 is None:
        return instances
    out = []
    for inst in instances:
        if abs(inst.l_um - unit_l_um) < 1e-9:
            scale = factor if OUTPUT_DEVICE.search(inst.name) else shared_factor
            if shared_min_area_um2 is not None and SHARED_ROLE_DEVICE.search(inst.name):
                scale = max(scale, math.sqrt(shared_min_area_um2 / (inst.w_um * inst.l_um * inst.m)))
            inst = dataclasses.replace(inst, w_um=round(inst.w_um * scale, 4), l_um=round(inst.l_um * scale, 4))
        out.append(inst)
    return tuple(out)


def gate_area_um2(instances: tuple[Instance, ...], unit_l_um: float,
                  drawn: tuple[Instance, ...] | None = None) -> dict[str, float]:
    """Gate area W x L x m of the matched devices: parameters' own outputs and shared ones.
    ``drawn``: the circuit as drawn, when ``instances`` is a resized copy of it
    (:func:`scale_matched_devices`); its devices of gate length ``unit_l_um`` say which count."""
    areas = {"outputs": 0.0, "shared": 0.0}
    for reference, inst in zip(drawn or instances, instances):
        if abs(reference.l_um - unit_l_um) < 1e-9:
            areas["outputs" if OUTPUT_DEVICE.search(inst.name) else "shared"] += inst.w_um * inst.l_um * inst.m
    return areas


def device_log_sigmas(sigma: np.ndarray, sensitivity: np.ndarray) -> np.ndarray:
    """sigma of ln(current) per device: the parameters' independent draws through S_p."""
    return np.sqrt(np.sum((sigma * sensitivity) ** 2, axis=-1))


# role -> (regular expression on flat instance names, per finger?, model or None for any)
_ROLE_PATTERNS = {
    "nmos_finger": (PROJECTION_OUTPUT, True, NFET),
    "pmos_finger": (PROJECTION_OUTPUT, True, PFET),
    "rx_in.d": (r"^rx_in/d\d+$", False, None), "rx_in.k": (r"^rx_in/k\d+$", False, None),
    "rx_in.p": (r"^rx_in/p\d+$", False, None),
    "rx.d": (r"rx_[uhy]\d+/d\d+$", False, None), "rx.k": (r"rx_[uhy]\d+/k\d+$", False, None),
    "rx.p": (r"rx_[uhy]\d+/p\d+$", False, None),
    "nref": (r"^bias/nref$", False, None), "npb": (r"^bias/npb$", False, None), "ppb": (r"^bias/ppb$", False, None),
    "pnc": (r"^bias/pnc$", False, None), "nnc": (r"^bias/nnc$", False, None),
    "cell.kpc": (r"/cell\d+/kpc$", False, None), "cell.ppc": (r"/cell\d+/ppc$", False, None),
    "cell.m1": (r"/cell\d+/m1$", False, None), "cell.m2": (r"/cell\d+/m2$", False, None),
    "cell.beta2_finger": (r"/cell\d+/beta2$", True, None), "cell.delta_finger": (r"/cell\d+/delta$", True, None),
    "cell.alpha_finger": (r"/cell\d+/alpha$", True, None),
    "res.r": (r"/res\d+/r_[yu]\d+$", False, None),
}


# a device of a shared role (one whose current error every parameter on its path shares)
SHARED_ROLE_DEVICE = re.compile("|".join(pattern for pattern, per_finger, _ in _ROLE_PATTERNS.values()
                                         if not per_finger))


def role_sigmas(instances: tuple[Instance, ...], log_sigmas: np.ndarray) -> dict[str, float]:
    """sigma of ln(current) per device role of ``bmru.mismatch`` (the mean over the circuit's
    devices in that role; ``*_finger`` roles are per finger, i.e. sigma * sqrt(m))."""
    out = {}
    for role, (pattern, per_finger, model) in _ROLE_PATTERNS.items():
        values = [log_sigmas[i] * (np.sqrt(inst.m) if per_finger else 1.0) for i, inst in enumerate(instances)
                  if re.search(pattern, inst.name) and model in (None, inst.model)]
        if not values:
            raise MismatchModelError(f"role {role}: no device of the circuit matches {pattern}")
        out[role] = round(float(np.mean(values)), 6)
    return out
