"""The BMRU cell (current-mode Schmitt trigger, 20 MOSFETs) as one compact layout cell.

The devices come from the cell's own subcircuit (:func:`generators.circuit.spice_cells.cell_block`,
parsed back), so the layout cannot drift from the schematic: W, L, finger counts and nets are
the netlist's. What this module decides is where the devices go, in this order:

- NMOS rows: the input stack ``T1`` over the matched mirror ``M1``/``M2`` (one interdigitated
  row, ``M1`` its diode) and the cascode ``M2c``; the bias line's ``Kpc``/``Cpc``; the
  comparator node's ``Xtie``, ``Xdsw`` and the width sink ``Xdelta``; the state inverter
  ``Xinv`` and its enable switch ``Xsample_n``, ``Xdump``, ``Xasw``, ``Xreset``;
- PMOS rows (one shared n-well): ``Xclamp``, the line's diode ``XPpc`` (0.955 µm fingers, so
  apart), then the sources on gate ``pc``: ``Xbeta2``, ``Xhold`` and ``Xalpha`` in one
  matched row when their finger widths are equal, else ``Xbeta2`` in rows of its own
  (widened fingers, :func:`generators.circuit.spice_cells.threshold_finger_width`) and
  ``Xhold``/``Xalpha`` together; then ``Xsample_p``;
- with the state keeper (``Sizing.state_keeper``), its NMOS ``Xkinvn``, ``Xkstn``, ``Xkdn``,
  ``Xkdnsw`` and PMOS ``Xkinvp``, ``Xkstp``, ``Xkup``, ``Xkupsw`` at the end of their rows.

A device or group with more fingers than fit in a row is folded into several rows, each
carrying an even share of every device of the group (so a folded matched group stays
interleaved); LVS folds the parallel fingers back into one device. Blocks fill rows first-fit
in that order (small switches fill what folded rows leave), rows pair up around shared
channels, and everything is routed inside the cell on met1/met2 (:mod:`generators.layout.cells.macro`):
the internal nodes (``x``, ``xd``, ``xm``, ``a``, ``pc``, ``ha``, ``kpc``) never leave it,
and the eleven pins end as met2 ports on the top edge, named as the subcircuit's pins. The row
length is the one of least cell area unless given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gdsfactory as gf

from generators.circuit.mapping import SHIPPED_SIZING, CellSpec, Sizing
from generators.circuit.netlist import Device, flatten, parse_spice
from generators.circuit.spice_cells import CELL_PINS, cell_block, cell_name
from generators.layout.pads import least_area
from pdk_sky130_180.devices import fet

from ._draw import nm
from .group import drain_port, matched_row
from .macro import Block, MacroPlan, block_width, macro_component, plan_macro
from .row import MID_SD
from .transistor import mosfet

__all__ = ["BmruCellParams", "params_of", "bmru_cell", "bmru_cell_sized", "bmru_cell_for", "bmru_cell_spice", "cell_devices",
           "cell_plan", "plan_for_row"]


@dataclass(frozen=True)
class BmruCellParams:
    """The learned part of a cell, as finger counts of the cell step (see CellSpec)."""

    beta1_fingers: int
    delta_fingers: int
    alpha_fingers: int
    s0: int
    sizing: Sizing = SHIPPED_SIZING  # the matched devices' unit size and finger counts

    def spec(self) -> CellSpec:
        # layer/index only name the subcircuit; the layout does not depend on them
        return CellSpec(0, 0, self.beta1_fingers, self.delta_fingers, self.alpha_fingers, self.s0)


def params_of(cell: CellSpec, sizing: Sizing = SHIPPED_SIZING) -> BmruCellParams:
    return BmruCellParams(cell.beta1_fingers, cell.delta_fingers, cell.alpha_fingers, cell.s0, sizing)


def _cell_netlist(params: BmruCellParams) -> str:
    return cell_block(params.spec(), params.sizing)


def cell_devices(params: BmruCellParams) -> dict[str, Device]:
    """The cell's MOSFETs by instance name (``kpc``, ``beta2``, ...), from its subcircuit."""
    devices = flatten(parse_spice(_cell_netlist(params)), cell_name(params.spec()))
    return {d.name: d for d in devices}


def bmru_cell_spice(params: BmruCellParams, name: str) -> str:
    """The subcircuit the layout must match, renamed ``name`` (the layout's top cell)."""
    return _cell_netlist(params).replace(cell_name(params.spec()), name)


# --------------------------------------------------------------------------------------
# blocks: one sub-cell each


def _polarity(device: Device) -> str:
    return fet(device.model).polarity


def _single(name: str, device: Device) -> Block:
    """``device`` as one multi-finger transistor (a finger per unit of its multiplier)."""
    component = mosfet(polarity=_polarity(device), w=device.w_um, l=device.l_um, fingers=device.multiplier,
                       tap=True)
    nets = {"drain": device.nets["d"], "gate": device.nets["g"], "source": device.nets["s"],
            "body": device.nets["b"]}
    return Block(name, component, nets, _polarity(device))


def _group(name: str, devices: tuple[Device, ...], fingers: tuple[int, ...] | None = None,
           dummies: bool = True) -> Block:
    """Devices sharing gate, source and body in one interdigitated row (a diode first), with
    ``fingers`` each (None: their multipliers)."""
    fingers = tuple(d.multiplier for d in devices) if fingers is None else fingers
    first = devices[0]
    diode = 0 if first.nets["d"] == first.nets["g"] else None
    component = matched_row(polarity=_polarity(first), w=first.w_um, l=first.l_um, fingers=fingers,
                            diode=diode, dummies=dummies, tap=True)
    nets = {"gate": first.nets["g"], "source": first.nets["s"], "body": first.nets["b"]}
    nets.update({drain_port(i): d.nets["d"] for i, d in enumerate(devices) if i != diode})
    return Block(name, component, nets, _polarity(first))


def _shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal integers, larger first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _folded_group(name: str, devices: tuple[Device, ...], row_nm: int) -> list[Block]:
    """A matched group in as few rows as fit in ``row_nm``, every row carrying an even share of
    every device (a device with no share in a row is left out of it)."""
    total = sum(d.multiplier for d in devices)
    rows = max(1, math.ceil(total * (nm(devices[0].l_um) + MID_SD) / row_nm))
    while True:
        blocks = []
        shares = [_shares(d.multiplier, rows) for d in devices]
        for r in range(rows):
            members = tuple(d for d, s in zip(devices, shares) if s[r])
            counts = tuple(s[r] for s in shares if s[r])
            blocks.append(_group(f"{name}_{r}", members, counts))
        if rows >= total or all(block_width(b) <= row_nm for b in blocks):
            return blocks
        rows += 1


KEEPER_NMOS = ("kinvn", "kstn", "kdn", "kdnsw")
KEEPER_PMOS = ("kinvp", "kstp", "kup", "kupsw")


def cell_blocks(devices: dict[str, Device], row_nm: int) -> tuple[list[Block], list[Block]]:
    """NMOS and PMOS blocks in placement order (see the module doc)."""
    dev = devices
    nmos = [
        _single("t1", dev["t1"]),
        _group("m1_m2", (dev["m1"], dev["m2"])),
        _single("m2c", dev["m2c"]),
        _single("kpc", dev["kpc"]),
        _single("cpc", dev["cpc"]),
        _single("tie", dev["tie"]),
        _single("dsw", dev["dsw"]),
        *_folded_group("delta", (dev["delta"],), row_nm),
        _single("inv", dev["inv"]),
        _single("sample_n", dev["sample_n"]),
        _single("dump", dev["dump"]),
        _single("asw", dev["asw"]),
        _single("reset", dev["reset"]),
        *(_single(name, dev[name]) for name in KEEPER_NMOS if name in dev),
    ]
    beta2, hold, alpha = dev["beta2"], dev["hold"], dev["alpha"]
    if (beta2.w_um, beta2.l_um) == (hold.w_um, hold.l_um):
        sources = _folded_group("pc_sources", (beta2, hold, alpha), row_nm)
    else:  # the threshold fingers are widened (spice_cells.threshold_finger_width)
        sources = _folded_group("beta2", (beta2,), row_nm) + _folded_group("hold_alpha", (hold, alpha), row_nm)
    pmos = [_single("clamp", dev["clamp"]), _single("ppc", dev["ppc"]), *sources,
            _single("sample_p", dev["sample_p"]), *(_single(name, dev[name]) for name in KEEPER_PMOS if name in dev)]
    return nmos, pmos


def _pack(blocks: list[Block], row_nm: int) -> list[list[Block]]:
    """First fit in order: each block goes into the first row with room for it (a block wider
    than ``row_nm`` gets a row of its own), so small devices fill what folded rows leave."""
    rows: list[list[Block]] = []
    used: list[int] = []
    for block in blocks:
        width = block_width(block)
        for index in range(len(rows)):
            if used[index] + width <= row_nm:
                rows[index].append(block)
                used[index] += width
                break
        else:
            rows.append([block])
            used.append(width)
    return rows


def plan_for_row(params: BmruCellParams, row_um: float) -> MacroPlan:
    """Placement and routing of the cell with rows at most ``row_um`` long (no drawing)."""
    row_nm = nm(row_um)
    nmos, pmos = cell_blocks(cell_devices(params), row_nm)
    return plan_macro(_pack(nmos, row_nm) + _pack(pmos, row_nm), CELL_PINS)


ROW_UM_CANDIDATES = tuple(range(24, 66, 4))  # the tie device and its pads need ~23 µm
MAX_ASPECT = 2.0


def cell_plan(params: BmruCellParams, row_um: float | None = None) -> MacroPlan:
    """The plan for ``row_um``, or (None) the one of least area over :data:`ROW_UM_CANDIDATES`
    within an aspect ratio of :data:`MAX_ASPECT` (ties to the narrower). Folding and packing
    make the area a step function of the row length, so it is measured, not guessed."""
    if row_um is not None:
        return plan_for_row(params, row_um)
    plans = [plan_for_row(params, r) for r in ROW_UM_CANDIDATES]
    return least_area(plans, lambda p: (p.width, p.height), MAX_ASPECT)


# --------------------------------------------------------------------------------------
# the cell


def _check(params: BmruCellParams, row_um: float | None) -> None:
    for field_name in ("beta1_fingers", "delta_fingers", "alpha_fingers"):
        value = getattr(params, field_name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{field_name} must be a positive integer, got {value!r}")
    if params.s0 not in (0, 1):
        raise ValueError(f"s0 must be 0 or 1, got {params.s0!r}")
    if row_um is not None and not row_um > 0:
        raise ValueError(f"row_um must be positive, got {row_um!r}")


def _draw(params: BmruCellParams, row_um: float | None) -> gf.Component:
    _check(params, row_um)
    plan = cell_plan(params, row_um)
    c = macro_component(plan)
    c.info["width_um"] = plan.width / 1000
    c.info["height_um"] = plan.height / 1000
    c.info["rows"] = 1 + max(item.row for item in plan.placed)
    return c


@gf.cell
def bmru_cell(beta1_fingers: int = 1, delta_fingers: int = 1, alpha_fingers: int = 1, s0: int = 0,
              row_um: float | None = None) -> gf.Component:
    """One BMRU cell of the shipped sizing, placed and routed; ports (met2, north, with pin
    labels) ``c h st rst en enb nb ncas nc vdd vss`` on the top edge. ``row_um``: longest row
    (µm); None: least area."""
    return _draw(BmruCellParams(beta1_fingers, delta_fingers, alpha_fingers, s0), row_um)


@gf.cell
def bmru_cell_sized(beta1_fingers: int = 1, delta_fingers: int = 1, alpha_fingers: int = 1, s0: int = 0,
                    row_um: float | None = None, unit_um: float = 1.0, cell_line_copies: int = 1,
                    cell_input_fingers: int = 4, state_keeper: bool = False) -> gf.Component:
    """:func:`bmru_cell` with the cell's part of another sizing
    (:class:`generators.circuit.mapping.Sizing`; a bad one raises MappingError naming it). A
    cell of its own, so the shipped cells keep their names and golden GDS."""
    sizing = Sizing(unit_um, cell_line_copies=cell_line_copies, cell_input_fingers=cell_input_fingers,
                    state_keeper=state_keeper)
    return _draw(BmruCellParams(beta1_fingers, delta_fingers, alpha_fingers, s0, sizing), row_um)


def bmru_cell_for(cell: CellSpec, row_um: float | None = None, sizing: Sizing = SHIPPED_SIZING) -> gf.Component:
    """The layout of ``cell`` (a mapped cell of a hardware spec drawn with ``sizing``)."""
    own = {k: v for k, v in sizing.record().get("sizing", {}).items()
           if k in ("unit_um", "cell_line_copies", "cell_input_fingers", "state_keeper")}
    if not own:
        return bmru_cell(cell.beta1_fingers, cell.delta_fingers, cell.alpha_fingers, cell.s0, row_um)
    return bmru_cell_sized(cell.beta1_fingers, cell.delta_fingers, cell.alpha_fingers, cell.s0, row_um, **own)
