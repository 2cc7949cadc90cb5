"""Weights -> hardware spec: every learned parameter becomes an integer number of unit fingers.

Realisation (see ``generators/circuit/spice_cells.py`` for the circuits):

- A signal (input feature, layer input u, cell output h, post-projection y) is a current into a
  stack of two diode-connected NMOS of ``REF_FINGERS`` = 4 unit fingers. A weight ``w = k * WEIGHT_STEP``
  (``WEIGHT_STEP`` = 0.25) is ONE mirror output of ``|k|`` unit fingers: an NMOS that sinks
  current from the summing node when ``k < 0``, a PMOS (from a quarter-current PMOS copy of the
  signal) that sources into it when ``k > 0``. ``k = 0`` is no device.
- A bias ``b = k * BIAS_STEP`` (0.25) is ONE bias mirror output of ``|k|`` fingers from the
  shared bias lines, each finger carrying ``BIAS_STEP`` units.
- A cell's ``beta1 = k1 * CELL_STEP``, ``delta = kd * CELL_STEP``, ``alpha = ka * CELL_STEP``
  (``CELL_STEP`` = 0.05) become three bias mirror outputs: the threshold source with
  ``k1 + kd`` fingers (beta2), the hysteresis-width sink with ``kd`` fingers and the output source
  with ``ka`` fingers. ``s0`` selects which node the cell's reset transistor pulls low.
- All bias lines derive from the one reference pin ``iref`` (one unit current).
- ``internal_scale`` (sigma) scales every current inside the array: input pins take
  ``x * unit`` but the input diodes are ``REF_FINGERS / sigma`` fingers wide, and the iref diode
  likewise, so all internal currents (thresholds, alpha, class outputs) are ``sigma`` units per
  software unit. Decisions are scale-free; power drops by ~sigma.

Realisable ranges (after rounding to the grid): ``|W|, |b| <= 3`` (12 fingers),
``beta1, delta, alpha`` in ``[0.05, 3]`` (1..60 fingers). Values off the grid are rounded to the
nearest step; a value whose rounded magnitude lies outside its range is an error naming the
parameter and index, e.g. ``W_c1[2,3]: 3.4 outside [-3, 3]``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bmru.grid import HARDWARE_GRID, GridError, HardwareGrid, ParameterRange, check_recorded
from bmru.weights import Network, validate
from bmru.cli import atomic_write, default_out
from generators.circuit.unit_devices import device_set

SPEC_FORMAT = "bmru-hw/1"


class MappingError(ValueError):
    """A parameter the hardware cannot realise; the message names it (e.g. ``W_c0[1,2]``)."""


REF_FINGERS = 4  # fingers of every signal's diode: a weight of k/4 is k output fingers
CONVERTER_FINGERS = 1  # NMOS copy feeding the PMOS diode: the PMOS side carries 1/4 of the signal
BIAS_LINE_FINGERS = 5  # diodes of the cell bias lines: one finger = 1/5 of a quarter unit = 0.05


@dataclass(frozen=True)
class Sizing:
    """How large the matched devices are drawn: a choice of matching against area, gate
    capacitance and bias power, not a learned parameter (docs/robustness.md).

    - ``unit_um``: W = L of every matched unit finger (a characterised
      :class:`generators.circuit.unit_devices.DeviceSet`). Ratios stay finger counts.
    - ``bias_line_copies``: fingers of each global bias-line branch (``npb``/``cpb``/``ppb``,
      ``pnc`` and the ``nnc`` diode times as many). Every bias of the chip shares these
      one-device paths; k fingers match sqrt(k) times better and draw k times the branch
      current (0.25 sigma units each).
    - ``cell_line_copies``: the same for each cell's own threshold line (``kpc``/``cpc``/``ppc``),
      which sets both of the cell's thresholds and its output.
    - ``cell_input_fingers``: the cell's candidate diode ``M1`` and its copy ``M2`` (with their
      cascodes ``T1``/``M2c``): a 1:1 mirror, so more fingers cost no current.
    - ``converter_copies``: fingers of each signal's n->p converter (``K`` and its cascode) and of
      the PMOS diode it feeds (``P``): the p-line then carries that many quarters of the signal,
      and every positive weight's ratio stays (its PMOS diode grows with it).
    - ``state_keeper``: each cell holds its state with a clocked keeper while its layer is
      disabled (:func:`generators.circuit.spice_cells.cell_block`) instead of as charge on the
      state node, which leakage drains within milliseconds at 85 °C.
    """

    unit_um: float = 1.0
    bias_line_copies: int = 1
    cell_line_copies: int = 1
    cell_input_fingers: int = REF_FINGERS
    converter_copies: int = 1
    state_keeper: bool = False

    def __post_init__(self) -> None:
        try:
            device_set(self.unit_um)
        except ValueError as error:
            raise MappingError(f"unit_um: {error}") from None
        for name in ("bias_line_copies", "cell_line_copies", "cell_input_fingers", "converter_copies"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MappingError(f"{name}: must be a positive integer, got {value!r}")
        if not isinstance(self.state_keeper, bool):
            raise MappingError(f"state_keeper: must be true or false, got {self.state_keeper!r}")

    def record(self) -> dict:
        """``{"sizing": fields that differ from the shipped sizing}``, or ``{}`` for the shipped
        one: what a result's job description records (older results stay comparable)."""
        changed = {k: v for k, v in asdict(self).items() if v != getattr(SHIPPED_SIZING, k)}
        return {"sizing": changed} if changed else {}

    def describe(self) -> str:
        """What a figure's "covers" says about the sizing: "" for the shipped one."""
        return ", ".join(k if v is True else f"{k} {v:g}" for k, v in self.record().get("sizing", {}).items())


SHIPPED_SIZING = Sizing()


@dataclass(frozen=True)
class MappingConfig:
    grid: HardwareGrid = HARDWARE_GRID  # bmru.grid: the one grid training and mapping share
    internal_scale: float = 0.5  # sigma: internal current per software unit, in units
    sizing: Sizing = field(default_factory=Sizing)

    @property
    def weight(self) -> ParameterRange:
        return self.grid.weight

    @property
    def bias(self) -> ParameterRange:
        return self.grid.bias

    @property
    def cell(self) -> ParameterRange:
        return self.grid.cell

    def __post_init__(self) -> None:
        if self.internal_scale <= 0 or not math.isclose(REF_FINGERS / self.internal_scale,
                                                         round(REF_FINGERS / self.internal_scale)):
            raise MappingError(f"internal_scale: {self.internal_scale} must make {REF_FINGERS}/scale an integer")
        if not math.isclose(self.weight.step * REF_FINGERS, 1.0):
            raise MappingError("weight.step: must be 1/REF_FINGERS (one finger against the 4-finger reference)")


@dataclass(frozen=True)
class Projection:
    """A mirror group: ``rows`` summing nodes fed from ``cols`` signals plus a bias per row."""

    name: str  # "in", "c0", "o0", "out"
    weight_key: str  # "W_in", "W_c0", ...
    bias_key: str
    source: str  # signal bundle name the columns read: "x", "u0", "h0", ...
    target: str  # summing-node bundle the rows drive: "u0", "c0", "y0", "z"
    weight_fingers: tuple[tuple[int, ...], ...]  # (rows, cols) signed
    bias_fingers: tuple[int, ...]  # (rows,) signed

    @property
    def rows(self) -> int:
        return len(self.weight_fingers)

    @property
    def cols(self) -> int:
        return len(self.weight_fingers[0])


@dataclass(frozen=True)
class CellSpec:
    layer: int
    index: int
    beta1_fingers: int
    delta_fingers: int
    alpha_fingers: int
    s0: int

    @property
    def beta2_fingers(self) -> int:
        return self.beta1_fingers + self.delta_fingers

    @property
    def name(self) -> str:
        return f"cell{self.layer}_{self.index}"


@dataclass(frozen=True)
class HardwareSpec:
    format: str
    n_in: int
    width: int
    cells_per_layer: int
    layers: int
    classes: int
    unit_current_A: float
    frame_period_s: float
    internal_scale: float
    weight_step: float
    bias_step: float
    cell_step: float
    projections: tuple[Projection, ...]
    cells: tuple[CellSpec, ...]
    class_names: tuple[str, ...]
    meta_json: str
    quantisation_max_error: dict = field(default_factory=dict)
    sizing: Sizing = field(default_factory=Sizing)

    def projection(self, name: str) -> Projection:
        for projection in self.projections:
            if projection.name == name:
                return projection
        raise KeyError(name)

    def layer_cells(self, layer: int) -> tuple[CellSpec, ...]:
        return tuple(cell for cell in self.cells if cell.layer == layer)

    @property
    def state_pins(self) -> tuple[str, ...]:
        return tuple(f"st{cell.layer}_{cell.index}" for cell in self.cells)

    @property
    def top_pins(self) -> tuple[str, ...]:
        return (tuple(f"in{j}" for j in range(self.n_in)) + tuple(f"out{k}" for k in range(self.classes))
                + self.state_pins + ("rst",) + self.enable_pins + ("iref", "vdd_ff", "vdd_cells", "vdd_bias", "vss"))

    @property
    def enable_pins(self) -> tuple[str, ...]:
        """A state-update enable and its complement per layer (frame-synchronous cells, see
        spice_cells.cell_block)."""
        return tuple(f"{name}{layer}" for layer in range(self.layers) for name in ("en", "enb"))


TOP_NAME = "bmru_top"


# --------------------------------------------------------------------------------------
# mapping


def _fingers_tuple(array: np.ndarray) -> tuple:
    if array.ndim == 1:
        return tuple(int(v) for v in array)
    return tuple(tuple(int(v) for v in row) for row in array)


def _max_error(values: np.ndarray, counts: np.ndarray, step: float) -> float:
    return float(np.max(np.abs(values - counts * step))) if values.size else 0.0


def map_network(net: Network, config: MappingConfig = MappingConfig()) -> HardwareSpec:
    """Quantise ``net`` to the hardware grid; raises :class:`MappingError` naming a bad parameter,
    or the grid field when the model records quantisation to another grid."""
    try:
        check_recorded(net.meta.extra.get("quantisation"), config.grid)
    except GridError as error:
        raise MappingError(str(error)) from None
    errors: dict[str, float] = {}
    projections = []

    def fingers(grid_range: ParameterRange, name: str, values) -> np.ndarray:
        try:
            return grid_range.fingers(name, values)
        except GridError as error:
            raise MappingError(str(error)) from None

    def projection(name, weight_key, bias_key, weights, bias, source, target):
        wf = fingers(config.weight, weight_key, weights)
        bf = fingers(config.bias, bias_key, bias)
        errors[weight_key] = _max_error(weights, wf, config.weight.step)
        errors[bias_key] = _max_error(bias, bf, config.bias.step)
        projections.append(Projection(name, weight_key, bias_key, source, target, _fingers_tuple(wf),
                                      _fingers_tuple(bf)))

    projection("in", "W_in", "b_in", net.W_in, net.b_in, "x", "u0")
    cells = []
    for index, layer in enumerate(net.layers):
        projection(f"c{index}", f"W_c{index}", f"b_c{index}", layer.W_c, layer.b_c, f"u{index}", f"c{index}")
        counts = {}
        for key in ("beta1", "delta", "alpha"):
            values = getattr(layer, key)
            counts[key] = fingers(config.cell, f"{key}{index}", values)
            errors[f"{key}{index}"] = _max_error(values, counts[key], config.cell.step)
        for n in range(layer.cells):
            cells.append(CellSpec(index, n, int(counts["beta1"][n]), int(counts["delta"][n]),
                                  int(counts["alpha"][n]), int(layer.s0[n])))
        projection(f"o{index}", f"W_o{index}", f"b_o{index}", layer.W_o, layer.b_o, f"h{index}", f"y{index}")
    projection("out", "W_out", "b_out", net.W_out, net.b_out, f"u{len(net.layers)}", "z")
    return HardwareSpec(
        format=SPEC_FORMAT, n_in=net.n_in, width=net.width, cells_per_layer=net.layers[0].cells,
        layers=len(net.layers), classes=net.classes, unit_current_A=net.meta.unit_current_A,
        frame_period_s=net.meta.frame_period_s, internal_scale=config.internal_scale,
        weight_step=config.weight.step, bias_step=config.bias.step, cell_step=config.cell.step,
        projections=tuple(projections), cells=tuple(cells), class_names=tuple(net.meta.classes),
        meta_json=net.meta.to_json(), quantisation_max_error={k: round(v, 12) for k, v in sorted(errors.items())},
        sizing=config.sizing)


def quantised_network(spec: HardwareSpec) -> Network:
    """The software model the circuit implements: ``spec``'s finger counts times their steps."""
    arrays: dict[str, np.ndarray] = {"format": np.array("bmru-fq/1"), "meta": np.array(spec.meta_json)}
    for projection in spec.projections:
        arrays[projection.weight_key] = np.array(projection.weight_fingers, dtype=np.float64) * spec.weight_step
        arrays[projection.bias_key] = np.array(projection.bias_fingers, dtype=np.float64) * spec.bias_step
    for layer in range(spec.layers):
        cells = spec.layer_cells(layer)
        arrays[f"beta1{layer}"] = np.array([c.beta1_fingers for c in cells], dtype=np.float64) * spec.cell_step
        arrays[f"delta{layer}"] = np.array([c.delta_fingers for c in cells], dtype=np.float64) * spec.cell_step
        arrays[f"alpha{layer}"] = np.array([c.alpha_fingers for c in cells], dtype=np.float64) * spec.cell_step
        arrays[f"s0{layer}"] = np.array([c.s0 for c in cells], dtype=np.float64)
    return validate(arrays)


# --------------------------------------------------------------------------------------
# JSON


def spec_to_dict(spec: HardwareSpec) -> dict:
    data = asdict(spec)
    data["projections"] = [asdict(p) for p in spec.projections]
    data["cells"] = [dict(asdict(c), beta2_fingers=c.beta2_fingers, name=c.name) for c in spec.cells]
    data["top"] = {"name": TOP_NAME, "pins": list(spec.top_pins)}
    data["meta"] = json.loads(spec.meta_json)
    if not spec.sizing.state_keeper:  # specs of cells without a keeper keep their bytes
        del data["sizing"]["state_keeper"]
    return data


def spec_from_dict(data: dict) -> HardwareSpec:
    if data.get("format") != SPEC_FORMAT:
        raise MappingError(f"format: expected {SPEC_FORMAT!r}, got {data.get('format')!r}")
    try:
        projections = tuple(Projection(p["name"], p["weight_key"], p["bias_key"], p["source"], p["target"],
                                       tuple(tuple(int(v) for v in row) for row in p["weight_fingers"]),
                                       tuple(int(v) for v in p["bias_fingers"])) for p in data["projections"])
        cells = tuple(CellSpec(int(c["layer"]), int(c["index"]), int(c["beta1_fingers"]), int(c["delta_fingers"]),
                               int(c["alpha_fingers"]), int(c["s0"])) for c in data["cells"])
        return HardwareSpec(
            format=SPEC_FORMAT, n_in=int(data["n_in"]), width=int(data["width"]),
            cells_per_layer=int(data["cells_per_layer"]), layers=int(data["layers"]), classes=int(data["classes"]),
            unit_current_A=float(data["unit_current_A"]), frame_period_s=float(data["frame_period_s"]),
            internal_scale=float(data["internal_scale"]), weight_step=float(data["weight_step"]),
            bias_step=float(data["bias_step"]), cell_step=float(data["cell_step"]), projections=projections,
            cells=cells, class_names=tuple(data["class_names"]), meta_json=str(data["meta_json"]),
            quantisation_max_error=dict(data.get("quantisation_max_error", {})),
            sizing=Sizing(**data.get("sizing", {})))
    except (KeyError, TypeError, ValueError) as error:
        raise MappingError(f"spec: malformed ({error!r})") from None


def spec_json(spec: HardwareSpec) -> str:
    return json.dumps(spec_to_dict(spec), indent=1, sort_keys=True) + "\n"


def write_spec(path: str | Path, spec: HardwareSpec) -> None:
    text = spec_json(spec)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def load_spec(path: str | Path) -> HardwareSpec:
    path = Path(path)
    if not path.is_file():
        raise MappingError(f"{path}: no such spec file")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise MappingError(f"{path}: not valid JSON ({error})") from None
    return spec_from_dict(data)


def add_mapping_arguments(parser) -> None:
    """The mapping options every command that maps weights shares."""
    parser.add_argument("--internal-scale", type=float, default=MappingConfig.internal_scale,
                        help="internal current per software unit, in units (default %(default)s)")
    shipped = SHIPPED_SIZING
    parser.add_argument("--unit-size", type=float, default=shipped.unit_um, metavar="UM",
                        help="W = L (µm) of every matched unit finger: mirrors, diodes, bias lines, cell "
                             "sources (default %(default)s; characterised sizes only)")
    parser.add_argument("--bias-line-copies", type=int, default=shipped.bias_line_copies, metavar="K",
                        help="fingers of each global bias-line branch: better matching for K times its "
                             "current (default %(default)s)")
    parser.add_argument("--cell-line-copies", type=int, default=shipped.cell_line_copies, metavar="K",
                        help="fingers of each cell's threshold-line branch (default %(default)s)")
    parser.add_argument("--cell-input-fingers", type=int, default=shipped.cell_input_fingers, metavar="K",
                        help="fingers of each cell's candidate diode and its copy (default %(default)s)")
    parser.add_argument("--converter-copies", type=int, default=shipped.converter_copies, metavar="K",
                        help="fingers of each n->p converter and its PMOS diode: better matching for K times "
                             "the p-line current (default %(default)s)")
    parser.add_argument("--state-keeper", action="store_true",
                        help="each cell holds its state with a clocked keeper while its layer is disabled "
                             "(without it a held state is charge, which leaks away within ms at 85 °C)")


def config_from(args) -> MappingConfig:
    """The mapping configuration of parsed :func:`add_mapping_arguments` options; exits naming a
    bad one."""
    from bmru.cli import fail  # noqa: PLC0415

    try:
        sizing = Sizing(args.unit_size, args.bias_line_copies, args.cell_line_copies, args.cell_input_fingers,
                        args.converter_copies, args.state_keeper)
        return MappingConfig(internal_scale=args.internal_scale, sizing=sizing)
    except MappingError as error:
        fail(str(error))


def load_mapped(weights: str | Path, inputs: str | Path, limit: int | None = None,
                config: MappingConfig = MappingConfig()):
    """(network, inputs, hardware spec) for a command: exits with a one-line reason naming the
    bad input (weights, inputs file or a parameter the hardware cannot realise)."""
    from bmru.cli import fail  # noqa: PLC0415
    from bmru.inputs import InputsError, load_inputs  # noqa: PLC0415
    from bmru.weights import WeightsError, load_weights  # noqa: PLC0415

    try:
        net = load_weights(weights)
        loaded = load_inputs(inputs, n_in=net.n_in, limit=limit, classes=net.classes)
        spec = map_network(net, config)
    except (WeightsError, InputsError, MappingError) as error:
        fail(str(error))
    return net, loaded, spec


def spec_from_command_line(prog: str, description: str,
                           argv: list[str] | None = None) -> tuple[HardwareSpec, Path]:
    """The shared command line of the mapping-stage tools (WEIGHTS [-o OUT] [--internal-scale] [--unit-size]):
    the mapped spec and the output folder; exits naming the bad input when mapping fails."""
    import argparse  # noqa: PLC0415

    from bmru.cli import fail  # noqa: PLC0415
    from bmru.weights import WeightsError, load_weights  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("weights", help="bmru-fq/1 weights file (.npz)")
    parser.add_argument("-o", "--out", default=None, help="output folder (default build/<weights stem>/)")
    add_mapping_arguments(parser)
    args = parser.parse_args(argv)
    config = config_from(args)
    try:
        spec = map_network(load_weights(args.weights), config)
    except (WeightsError, MappingError) as error:
        fail(str(error))
    return spec, Path(args.out) if args.out else default_out(args.weights)


def main(argv: list[str] | None = None) -> None:
    from bmru.cli import progress  # noqa: PLC0415

    spec, out = spec_from_command_line(
        "python -m generators.circuit.mapping",
        "Map bmru-fq/1 weights to a hardware spec (spec.json): finger counts per weight, bias and cell "
        "parameter.", argv)
    write_spec(out / "spec.json", spec)
    progress(f"wrote {out / 'spec.json'}")


if __name__ == "__main__":
    main()
