"""LVS of a sky130 GDS against a SPICE netlist, in klayout.db Python.

Device extraction follows the sky130A deck KPEX ships, restricted to the layers our cells draw,
and names the extracted layers as that deck does (``nsd``, ``psd``, ``ptap_conn``,
``ntap_conn``, ``poly_con``, ``li_con``, ``met1_con``, ``met2_con``, ``met3_ncap``,
``licon_*_con``, ``mcon_con``, ``via1_con``, ``via2_con``, ``*_pin_con``, ``*_label``, ``sub``)
so that ``kpex --pdk sky130A --lvsdb lvs.lvsdb --cell TOP --2.5D`` reads the result.

- nfet ``sky130_fd_pr__nfet_01v8`` / pfet ``sky130_fd_pr__pfet_01v8`` (1.8 V, no lvt/hvt
  markers) with W and L (µm); the nfet bulk is the substrate (layer ``sub``, the global net
  ``sky130_gnd``, which every p+ tap joins), the pfet bulk its n-well.
- Parallel fingers (same L, same four nets) fold into one device with the summed W, and LVS
  compares the fingers, not only the sum: every folded device carries ``NF`` (finger count)
  and ``W2`` (sum of the squared finger widths, µm²), because the sky130 models are binned by
  finger width (24 fingers of 1 µm and 25 of 0.96 µm have the same W but simulate
  differently). A layout finger is one extracted gate; a schematic instance ``w=u m=k`` (or
  ``mult``) is k fingers of u µm, with ``nf=n`` m x n fingers of u/n µm (BSIM4: ``w`` spans
  all nf fingers). So k unit fingers in the layout equal one ``m=k`` instance of the unit
  width, and several parallel instances add up. Devices whose source and drain are one net
  (dummies) are dropped from the layout netlist before the comparison.
- Nets named by a pin label in the layout must carry the same name as their partner in the
  schematic (this catches swapped labels, which the topological comparison cannot).

Writes ``lvs.lvsdb`` (KLayout netlist browser), ``lvs.json`` (``match``, ``devices_layout``,
``devices_schematic``, ``nets_layout``, ``nets_schematic``, ``seconds``, ``finger_mismatches``
and more) and ``lvs.txt`` (a readable report naming every mismatching net and device, devices
in fingers: ``layout 25 fingers x 0.96 µm  |  schematic 24 fingers x 1 µm``).

Usage::

    python -m extract.lvs GDS NETLIST [-o DIR] [--cell NAME]

Exit status: 0 match, 1 mismatch (after writing the reports), 2 bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


import klayout.db as db

from bmru.cli import atomic_write
from pdk_sky130_180 import layers as L
from pdk_sky130_180.devices import NFET, PFET
from pdk_sky130_180.pex import SUBSTRATE_NET  # KPEX's name for the substrate net

MOS_MODELS = (NFET, PFET)
W_TOLERANCE_REL = 1e-3
L_TOLERANCE_REL = 1e-3
# finger parameters added to both sides' MOS classes; NF must match exactly (a count),
# W2 within twice W's relative tolerance (a relative error e in w is 2e in w²)
PARAM_NF = "NF"
PARAM_W2 = "W2"
NF_TOLERANCE_ABS = 1e-6
W2_TOLERANCE_REL = 2 * W_TOLERANCE_REL
# what a parallel fold sums (L must be equal and stays)
_SUMMED = ("W", "AS", "AD", "PS", "PD", PARAM_NF, PARAM_W2)
_MOS_L_EQUAL = 1e-6  # µm; KLayout's own MOS combiner uses the same bound

__all__ = ["LvsResult", "LvsInputError", "run_lvs", "main", "SUBSTRATE_NET"]


class LvsInputError(Exception):
    """Missing or unreadable GDS or netlist, or no circuit to compare."""


# ---------------------------------------------------------------------------------------
# schematic reading
# ---------------------------------------------------------------------------------------
def _um(value: float) -> float:
    """A SPICE length to µm: sky130 netlists give µm (``w=1``), SI netlists metres (``1e-6``)."""
    return value * 1e6 if 0 < abs(value) < 1e-3 else value


def _add_finger_params(cls: db.DeviceClass) -> None:
    """Give a MOS class the NF and W2 parameters (not primary: only the compare rules set in
    :func:`compare` look at them)."""
    for name, desc, si, exponent in ((PARAM_NF, "Finger count", 1.0, 0.0),
                                     (PARAM_W2, "Sum of squared finger widths (square micrometer)",
                                      1e-12, 2.0)):
        if not cls.has_parameter(name):
            cls.add_parameter(db.DeviceParameterDefinition(name, desc, 0.0, False, si, exponent))


class _SpiceDelegate(db.NetlistSpiceReaderDelegate):
    """Reads sky130 MOS subcircuit calls (``X... d g s b sky130_fd_pr__nfet_01v8 w= l= m=``)
    and ``M`` elements as MOS4 devices with W = w x m and L in µm, and NF / W2 for the
    fingers (m x nf fingers of w / nf)."""

    def wants_subcircuit(self, name: str) -> bool:
        return name.lower() in MOS_MODELS

    def element(self, circuit, el, name, model, value, nets, params):  # noqa: N802 (klayout API)
        if el not in ("X", "M") or model.lower() not in MOS_MODELS:
            return super().element(circuit, el, name, model, value, nets, params)
        if len(nets) != 4:
            self.error(f"MOS {name} needs 4 nets (d g s b), got {len(nets)}")
        # one class per model (Netlist.device_class_by_name does not see classes added here
        # during the read, so keep them ourselves)
        classes = self.__dict__.setdefault("_classes", {})
        cls = classes.get(model.lower())
        if cls is None:
            cls = db.DeviceClassMOS4Transistor()
            cls.name = model.lower()
            _add_finger_params(cls)
            circuit.netlist().add(cls)
            classes[model.lower()] = cls
        dev = circuit.create_device(cls, name)
        for term, net in zip(("D", "G", "S", "B"), nets):
            dev.connect_terminal(term, net)
        p = {k.upper(): v for k, v in params.items()}
        mult = p.get("M", 1.0) * p.get("MULT", 1.0)
        nf = p.get("NF", 1.0) or 1.0
        w = _um(p.get("W", 0.0))
        dev.set_parameter("W", w * mult)
        dev.set_parameter("L", _um(p.get("L", 0.0)))
        dev.set_parameter(PARAM_NF, mult * nf)
        dev.set_parameter(PARAM_W2, mult * nf * (w / nf) ** 2)
        return True


def read_schematic(path: str | os.PathLike) -> db.Netlist:
    path = Path(path)
    if not path.is_file():
        raise LvsInputError(f"netlist file not found: {path}")
    netlist = db.Netlist()
    try:
        netlist.read(str(path), db.NetlistSpiceReader(_SpiceDelegate()))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LvsInputError(f"cannot read netlist {path}: {first}") from None
    for circuit in netlist.each_circuit():
        # KLayout reads a call of an undefined sub-circuit as an empty circuit, which then
        # flattens to nothing: the missing block would vanish from the comparison
        empty = not any(True for _ in circuit.each_device()) and not any(True for _ in circuit.each_subcircuit())
        if empty and any(True for _ in circuit.each_ref()):
            raise LvsInputError(f"netlist {path}: sub-circuit {circuit.name} is called but not defined")
    return netlist


# ---------------------------------------------------------------------------------------
# extraction
# ---------------------------------------------------------------------------------------
def _load_layout(path: str | os.PathLike) -> db.Layout:
    path = Path(path)
    if not path.is_file():
        raise LvsInputError(f"GDS file not found: {path}")
    layout = db.Layout()
    try:
        layout.read(str(path))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LvsInputError(f"cannot read GDS {path}: {first}") from None
    return layout


def extract(layout: db.Layout, cell: db.Cell) -> db.LayoutVsSchematic:
    """Set up the LVS object: layers, derivations, devices, connectivity; extract the netlist."""
    lvs = db.LayoutVsSchematic(db.RecursiveShapeIterator(layout, cell, []))
    lvs.threads = 1

    def inp(layer: L.Layer, name: str) -> db.Region:
        idx = layout.find_layer(layer.layer, layer.datatype)
        if idx is None:
            idx = layout.layer(layer.layer, layer.datatype)
        return lvs.make_layer(idx, name)

    def txt(layer: L.Layer, name: str) -> db.Texts:
        idx = layout.find_layer(layer.layer, layer.datatype)
        if idx is None:
            idx = layout.layer(layer.layer, layer.datatype)
        return lvs.make_text_layer(idx, name)

    # --- inputs; conductors under the names KPEX's deck gives them ---
    nwell, diff, tap = inp(L.NWELL, "nwell"), inp(L.DIFF, "diff"), inp(L.TAP, "tap")
    poly_con = inp(L.POLY, "poly_con")
    licon, npc = inp(L.LICON1, "licon"), inp(L.NPC, "npc")
    nsdm, psdm = inp(L.NSDM, "nsdm"), inp(L.PSDM, "psdm")
    hvtp, lvtn = inp(L.HVTP, "hvtp"), inp(L.LVTN, "lvtn")
    li_con, mcon_con = inp(L.LI1, "li_con"), inp(L.MCON, "mcon_con")
    met1_con, via1_con = inp(L.MET1, "met1_con"), inp(L.VIA, "via1_con")
    met2_con, via2_con = inp(L.MET2, "met2_con"), inp(L.VIA2, "via2_con")
    met3_ncap = inp(L.MET3, "met3_ncap")
    poly = poly_con
    poly_pin, li_pin, met1_pin, met2_pin, met3_pin = (
        inp(L.POLY_PIN, "poly_pin"), inp(L.LI1_PIN, "li_pin"), inp(L.MET1_PIN, "met1_pin"),
        inp(L.MET2_PIN, "met2_pin"), inp(L.MET3_PIN, "met3_pin"))
    labels = {name: txt(lay, name) for name, lay in (
        ("poly_label", L.POLY_LABEL), ("li_label", L.LI1_LABEL), ("met1_label", L.MET1_LABEL),
        ("met2_label", L.MET2_LABEL), ("met3_label", L.MET3_LABEL), ("nwell_label", L.NWELL_LABEL),
        ("tap_label", L.TAP_LABEL), ("sub_label", L.SUB_LABEL))}
    sub = lvs.make_polygon_layer(layout.layer(), "sub")  # empty: the substrate (bulk of the nfets)

    # --- derivations (as the KPEX sky130A deck, for our layers) ---
    sd = diff - poly - tap
    tgate = (poly & diff) - tap - npc
    ngate = (nsdm & tgate) - nwell - hvtp - psdm
    nsd = ((nsdm & sd) - nwell).interacting(ngate)
    ptap_conn = (tap & psdm) - nwell
    pgate = (psdm & tgate & nwell) - nsdm
    psd = (psdm & sd & nwell).interacting(pgate)
    ntap_conn = tap & nsdm & nwell
    ngate_1p8v = ngate - lvtn
    pgate_1p8v = pgate - hvtp - lvtn
    licon_npc = licon & npc
    licon_poly_con = licon & poly
    licon_nsd_con = licon & nsd
    licon_psd_con = licon & psd
    licon_ntap_con = licon & ntap_conn
    licon_ptap_con = licon & ptap_conn
    poly_pin_con = poly_pin & poly_con
    li_pin_con = li_pin & li_con
    met1_pin_con = met1_pin & met1_con
    met2_pin_con = met2_pin & met2_con
    met3_pin_con = met3_pin & met3_ncap

    # --- names, only now (a name registered before a boolean can get lost) ---
    named = {
        "sd": sd, "tgate": tgate, "ngate": ngate, "pgate": pgate, "nsd": nsd, "psd": psd,
        "ptap_conn": ptap_conn, "ntap_conn": ntap_conn, "ngate_1p8v": ngate_1p8v,
        "pgate_1p8v": pgate_1p8v, "licon_npc": licon_npc,
        "licon_poly_con": licon_poly_con, "licon_nsd_con": licon_nsd_con,
        "licon_psd_con": licon_psd_con, "licon_ntap_con": licon_ntap_con,
        "licon_ptap_con": licon_ptap_con,
        "poly_pin_con": poly_pin_con, "li_pin_con": li_pin_con, "met1_pin_con": met1_pin_con,
        "met2_pin_con": met2_pin_con, "met3_pin_con": met3_pin_con,
    }
    for name, region in named.items():
        lvs.register(region, name)

    # --- devices ---
    lvs.extract_devices(db.DeviceExtractorMOS4Transistor(NFET),
                        {"SD": nsd, "G": ngate_1p8v, "tS": nsd, "tD": nsd, "tG": poly_con, "W": sub})
    lvs.extract_devices(db.DeviceExtractorMOS4Transistor(PFET),
                        {"SD": psd, "G": pgate_1p8v, "tS": psd, "tD": psd, "tG": poly_con, "W": nwell})

    # --- connectivity ---
    routing = {L.LI1: li_con, L.MCON: mcon_con, L.MET1: met1_con, L.VIA: via1_con, L.MET2: met2_con,
               L.VIA2: via2_con, L.MET3: met3_ncap}  # the stack's layers under KPEX's names
    for cut in L.CONNECTIVITY:  # li1 - mcon - met1 - via - met2 - via2 - met3
        lvs.connect(routing[cut.lower], routing[cut.cut])
        lvs.connect(routing[cut.cut], routing[cut.upper])
    for a, b in ((sub, ptap_conn), (nwell, ntap_conn), (ptap_conn, licon), (ntap_conn, licon),
                 (psd, licon), (nsd, licon), (poly_con, licon_npc), (licon_npc, licon),
                 (licon, li_con), (licon_poly_con, licon), (licon_nsd_con, licon), (licon_psd_con, licon),
                 (licon_ntap_con, licon), (licon_ptap_con, licon),
                 (poly_con, poly_pin_con), (li_con, li_pin_con), (met1_con, met1_pin_con),
                 (met2_con, met2_pin_con), (met3_ncap, met3_pin_con)):
        lvs.connect(a, b)
    for region in (nwell, poly_con, li_con, met1_con, met2_con, met3_ncap):
        lvs.connect(region)
    for conductor, label in ((poly_con, "poly_label"), (li_con, "li_label"), (met1_con, "met1_label"),
                             (met2_con, "met2_label"), (met3_ncap, "met3_label"),
                             (nwell, "nwell_label"), (tap, "tap_label"), (sub, "sub_label")):
        lvs.connect(conductor, labels[label])
    lvs.connect(tap, ptap_conn)
    lvs.connect(tap, ntap_conn)
    lvs.connect_global(sub, SUBSTRATE_NET)
    lvs.connect_global(ptap_conn, SUBSTRATE_NET)

    lvs.extract_netlist()
    return lvs


def _drop_dummies(netlist: db.Netlist) -> int:
    """Remove MOS devices whose source and drain are the same net (dummy fingers) from every
    circuit; returns how many device instances of the flattened netlist they are.

    Run it before flattening: a cell's dummies then go once per cell, not once per placed copy
    (removing devices one at a time from a flat circuit of 10^5 devices took minutes at D = 64).
    Run it again after flattening for dummies whose two sides meet only in a parent cell."""
    copies: dict[str, int] = {}  # circuit -> placed copies in the flat netlist
    for circuit in netlist.each_circuit_top_down():  # parents before children
        if not any(True for _ in circuit.each_ref()):
            copies[circuit.name] = 1
        for sub in circuit.each_subcircuit():
            child = sub.circuit_ref().name
            copies[child] = copies.get(child, 0) + copies.get(circuit.name, 0)
    dropped = 0
    for circuit in netlist.each_circuit():
        dummies = []
        for dev in circuit.each_device():
            if not _is_mos(dev.device_class()):
                continue
            s, d = dev.net_for_terminal("S"), dev.net_for_terminal("D")
            if s is not None and d is not None and s.cluster_id == d.cluster_id:
                dummies.append(dev)
        for dev in dummies:
            circuit.remove_device(dev)
        dropped += len(dummies) * copies.get(circuit.name, 1)
    return dropped


def _is_mos(cls: db.DeviceClass) -> bool:
    return isinstance(cls, db.DeviceClassMOS4Transistor) or cls.name in MOS_MODELS


def _mark_layout_fingers(netlist: db.Netlist) -> None:
    """Every extracted MOS gate is one finger: NF = 1, W2 = W² (before folding)."""
    for cls in netlist.each_device_class():
        if _is_mos(cls):
            _add_finger_params(cls)
    for circuit in netlist.each_circuit():
        for dev in circuit.each_device():
            if _is_mos(dev.device_class()):
                w = dev.parameter("W")
                dev.set_parameter(PARAM_NF, 1.0)
                dev.set_parameter(PARAM_W2, w * w)


NetKeys = dict[tuple[str, int, int], int]  # (circuit, device id, terminal id) -> net index


def _net_keys(netlist: db.Netlist) -> NetKeys:
    """A stable key per net for every device terminal: Python wrappers of one net are not
    identical objects, and nets read from SPICE carry no cluster id."""
    keys: NetKeys = {}
    index = 0
    for circuit in netlist.each_circuit():
        for net in circuit.each_net():
            for ref in net.each_terminal():
                keys[(circuit.name, ref.device().id(), ref.terminal_id())] = index
            index += 1
    return keys


def _reconnected(device_index: int, terminal: int) -> db.DeviceReconnectedTerminal:
    r = db.DeviceReconnectedTerminal()
    r.device_index, r.other_terminal_id = device_index, terminal
    return r


def _join_terminal(a: db.Device, ta: int, b: db.Device, tb: int) -> None:
    """Merge b's terminal ``tb`` into a's terminal ``ta``, recording (as KLayout's own,
    unexposed ``Device::join_terminals`` does) which finger's terminal it was, so the lvsdb
    still maps every finger's geometry to the folded device's terminals. Device index 0 is
    a itself, 1.. its combined abstracts; b's abstracts follow a's (KLayout appends them when
    the combiner returns)."""
    offset = sum(1 for _ in a.each_combined_abstract()) + 1
    routes = list(b.each_reconnected_terminal_for(tb)) or [_reconnected(0, tb)]
    for r in routes:
        a.add_reconnected_terminal_for(ta, _reconnected(r.device_index + offset, r.other_terminal_id))
    b.disconnect_terminal(tb)


class _FingerCombiner(db.GenericDeviceCombiner):
    """Folds parallel MOS fingers as KLayout's MOS4 combiner does (same gate and bulk, same
    or swapped source/drain, same L) but also sums NF and W2, which that combiner drops."""

    keys: NetKeys

    def combine_devices(self, a: db.Device, b: db.Device) -> bool:  # klayout API
        s, g, d, bulk = (db.DeviceClassMOS4Transistor.TERMINAL_S, db.DeviceClassMOS4Transistor.TERMINAL_G,
                         db.DeviceClassMOS4Transistor.TERMINAL_D, db.DeviceClassMOS4Transistor.TERMINAL_B)
        na, nb = self._nets(a), self._nets(b)
        if na[g] != nb[g] or na[bulk] != nb[bulk]:
            return False
        same = na[s] == nb[s] and na[d] == nb[d]
        if not same and not (na[s] == nb[d] and na[d] == nb[s]):
            return False
        if abs(a.parameter("L") - b.parameter("L")) >= _MOS_L_EQUAL:
            return False
        for name in _SUMMED:
            a.set_parameter(name, a.parameter(name) + b.parameter(name))
        if not any(True for t in (s, g, d, bulk) for _ in a.each_reconnected_terminal_for(t)):
            for t in (s, g, d, bulk):  # a's own terminals, before the first join
                a.add_reconnected_terminal_for(t, _reconnected(0, t))
        for ta, tb in ((s, s), (d, d)) if same else ((s, d), (d, s)):
            _join_terminal(a, ta, b, tb)
        _join_terminal(a, g, b, g)
        _join_terminal(a, bulk, b, bulk)
        return True

    def _nets(self, dev: db.Device) -> tuple[int | None, ...]:
        name, i = dev.circuit().name, dev.id()
        return tuple(self.keys.get((name, i, t)) for t in range(4))


def fold_fingers(netlist: db.Netlist) -> None:
    """Combine parallel devices; MOS fingers fold with :class:`_FingerCombiner`."""
    keys = _net_keys(netlist)
    mos = [cls for cls in netlist.each_device_class() if _is_mos(cls)]
    for cls in mos:
        combiner = _FingerCombiner()
        combiner.keys = keys
        cls.combiner = combiner  # the class owns it from here
    netlist.combine_devices()
    for cls in mos:
        # the net keys are stale once devices are gone; a later combine must not use them
        cls.combiner = None


# ---------------------------------------------------------------------------------------
# comparison and reports
# ---------------------------------------------------------------------------------------
@dataclass
class LvsResult:
    match: bool
    top_cell: str
    schematic_circuit: str
    devices_layout: int
    devices_schematic: int
    nets_layout: int
    nets_schematic: int
    dummies_dropped: int
    seconds: float
    problems: list[str] = field(default_factory=list)
    finger_mismatches: list[str] = field(default_factory=list)
    fingers_layout: float = 0.0
    fingers_schematic: float = 0.0
    lvs: db.LayoutVsSchematic | None = field(default=None, repr=False)
    layout_sha256: str = ""
    schematic_sha256: str = ""

    def summary(self) -> dict:
        return {
            "match": self.match,
            "devices_layout": self.devices_layout,
            "devices_schematic": self.devices_schematic,
            "nets_layout": self.nets_layout,
            "nets_schematic": self.nets_schematic,
            "seconds": round(self.seconds, 3),
            "fingers_layout": round(self.fingers_layout, 6),
            "fingers_schematic": round(self.fingers_schematic, 6),
            "finger_mismatches": len(self.finger_mismatches),
            "top_cell": self.top_cell,
            "schematic_circuit": self.schematic_circuit,
            "dummies_dropped": self.dummies_dropped,
            "problems": len(self.problems),
            # what was compared: extract.pex carries these on, sim.postlayout checks them
            "layout_sha256": self.layout_sha256,
            "schematic_sha256": self.schematic_sha256,
        }


_STATUS = {
    db.NetlistCrossReference.Match: "match",
    db.NetlistCrossReference.MatchWithWarning: "match (warning)",
    db.NetlistCrossReference.Mismatch: "MISMATCH",
    db.NetlistCrossReference.NoMatch: "NO MATCH",
    db.NetlistCrossReference.Skipped: "skipped",
}


def _net_name(net) -> str:
    return "(none)" if net is None else (net.name or net.expanded_name())


def _fingers(dev: db.Device) -> str:
    """``25 fingers x 0.96 µm``; unequal fingers (W2 != W²/NF) say so with their mean and rms."""
    if not dev.device_class().has_parameter(PARAM_NF):
        return ""
    nf, w, w2 = dev.parameter(PARAM_NF), dev.parameter("W"), dev.parameter(PARAM_W2)
    if nf <= 0:
        return "0 fingers"
    count = f"{nf:g} finger{'' if nf == 1 else 's'}"
    mean, rms = w / nf, math.sqrt(max(w2, 0.0) / nf)
    if abs(rms - mean) <= W_TOLERANCE_REL * max(mean, 1e-12):
        return f"{count} x {mean:.4g} µm"
    return f"{count} of unequal width (mean {mean:.4g} µm, rms {rms:.4g} µm)"


def _dev_desc(dev) -> str:
    if dev is None:
        return "(none)"
    params = " ".join(f"{p.name}={dev.parameter(p.name):.4g}" for p in dev.device_class().parameter_definitions()
                      if p.name in ("W", "L"))
    fingers = _fingers(dev)
    nets = " ".join(f"{t.name}={_net_name(dev.net_for_terminal(t.id()))}"
                    for t in dev.device_class().terminal_definitions())
    return f"{dev.expanded_name()} {dev.device_class().name} {fingers + ', ' if fingers else ''}{params} [{nets}]"


def _fingers_differ(a: db.Device, b: db.Device) -> bool:
    if not (a.device_class().has_parameter(PARAM_NF) and b.device_class().has_parameter(PARAM_NF)):
        return False
    nf_a, nf_b = a.parameter(PARAM_NF), b.parameter(PARAM_NF)
    w2_a, w2_b = a.parameter(PARAM_W2), b.parameter(PARAM_W2)
    return (abs(nf_a - nf_b) > NF_TOLERANCE_ABS
            or abs(w2_a - w2_b) > W2_TOLERANCE_REL * 0.5 * (abs(w2_a) + abs(w2_b)))


def _finger_line(a: db.Device, b: db.Device, note: str = "") -> str:
    return (f"{b.expanded_name()} ({a.expanded_name()}) {b.device_class().name}: "
            f"layout {_fingers(a)}  |  schematic {_fingers(b)}{note}")


def _net_names_key(dev: db.Device) -> tuple[str, ...]:
    """Class and terminal net names (source/drain unordered), case-insensitive."""
    def name(t: str) -> str:
        return _net_name(dev.net_for_terminal(t)).lower()
    s, d = sorted((name("S"), name("D")))
    return dev.device_class().name.lower(), s, d, name("G"), name("B")


def _pair_by_net_names(layout_devs: list, schematic_devs: list) -> list[tuple]:
    """Pairs of unpaired devices that are the only ones on their side with these net names."""
    def unique(devs: list) -> dict:
        groups: dict[tuple[str, ...], list] = {}
        for dev in devs:
            groups.setdefault(_net_names_key(dev), []).append(dev)
        return {k: v[0] for k, v in groups.items() if len(v) == 1}
    lay, sch = unique(layout_devs), unique(schematic_devs)
    return [(lay[k], sch[k]) for k in lay if k in sch]


def _finger_mismatches(lvs: db.LayoutVsSchematic) -> list[str]:
    """One line per device whose fingers differ, named after the schematic device. When the
    comparer could pair nothing (a cell of one device has no other device to anchor its nets),
    unpaired devices on the same named nets are paired for this report only."""
    xref = lvs.xref()
    out: list[str] = []
    for cp in xref.each_circuit_pair():
        lone_layout, lone_schematic = [], []
        for dp in xref.each_device_pair(cp):
            a, b = dp.first(), dp.second()
            if a is not None and b is not None:
                if _fingers_differ(a, b):
                    out.append(_finger_line(a, b))
            elif a is not None:
                lone_layout.append(a)
            elif b is not None:
                lone_schematic.append(b)
        out += [_finger_line(a, b, "  (paired by net names)")
                for a, b in _pair_by_net_names(lone_layout, lone_schematic) if _fingers_differ(a, b)]
    return out


def _finger_count(circuit) -> float:
    if circuit is None:
        return 0.0
    return sum(dev.parameter(PARAM_NF) for dev in circuit.each_device()
               if dev.device_class().has_parameter(PARAM_NF))


def _ndev(circuit) -> int:
    return 0 if circuit is None else sum(1 for _ in circuit.each_device())


def _nnet(circuit) -> int:
    return 0 if circuit is None else sum(1 for _ in circuit.each_net())


def _pick_schematic_circuit(reference: db.Netlist, top: str) -> db.Circuit:
    by_name = {c.name.lower(): c for c in reference.each_circuit()}
    if top.lower() in by_name:
        return by_name[top.lower()]
    tops = [c for c in reference.each_circuit_top_down()][:reference.top_circuit_count()]
    with_devices = [c for c in reference.each_circuit() if _ndev(c) > 0 or any(True for _ in c.each_subcircuit())]
    if len(tops) == 1:
        return tops[0]
    if len(with_devices) == 1:
        return with_devices[0]
    raise LvsInputError(f"netlist has no subcircuit named {top!r} and {len(tops)} top circuits; "
                        f"name the subcircuit after the layout's top cell or pass --cell")


def compare(lvs: db.LayoutVsSchematic, reference: db.Netlist, top: str,
            schematic_cell: str | None = None) -> tuple[bool, db.Circuit, list[str], int]:
    layout_nl = lvs.netlist()
    ref_circuit = _pick_schematic_circuit(reference, schematic_cell or top)
    # Compare flat: layout cells (transistors, pad wrappers) need not mirror the schematic's
    # blocks, so both sides are flattened into their top circuit before folding fingers.
    dropped = _drop_dummies(layout_nl)
    layout_nl.flatten()
    dropped += _drop_dummies(layout_nl)
    for circuit in [c for c in reference.each_circuit() if c.name != ref_circuit.name]:
        reference.flatten_circuit(circuit)
    _mark_layout_fingers(layout_nl)
    fold_fingers(layout_nl)
    layout_nl.make_top_level_pins()
    layout_nl.purge_nets()
    fold_fingers(reference)
    ref_circuit = _pick_schematic_circuit(reference, schematic_cell or top)
    lay_circuit = layout_nl.circuit_by_name(top)
    comparer = db.NetlistComparer()
    comparer.max_branch_complexity = 500
    if ref_circuit.name.lower() != top.lower():
        comparer.same_circuits(lay_circuit, ref_circuit)
    for model in MOS_MODELS:
        cls_l = layout_nl.device_class_by_name(model)
        cls_r = reference.device_class_by_name(model)
        for cls in (cls_l, cls_r):
            if cls is not None:
                eq = db.EqualDeviceParameters(db.DeviceClassMOS4Transistor.PARAM_W, 0.0, W_TOLERANCE_REL)
                eq += db.EqualDeviceParameters(db.DeviceClassMOS4Transistor.PARAM_L, 0.0, L_TOLERANCE_REL)
                # fingers: a different count or finger width is a device mismatch
                eq += db.EqualDeviceParameters(cls.parameter_id(PARAM_NF), NF_TOLERANCE_ABS, 0.0)
                eq += db.EqualDeviceParameters(cls.parameter_id(PARAM_W2), 0.0, W2_TOLERANCE_REL)
                cls.equal_parameters = eq
    lvs.reference = reference
    ok = lvs.compare(comparer)
    problems = _name_problems(lvs, lay_circuit)
    return ok and not problems, ref_circuit, problems, dropped


def _name_problems(lvs: db.LayoutVsSchematic, lay_circuit: db.Circuit) -> list[str]:
    """Layout nets named by a label must match the name of their schematic partner."""
    xref = lvs.xref()
    out: list[str] = []
    for cp in xref.each_circuit_pair():
        if cp.first() is None or cp.first().name != lay_circuit.name:
            continue
        for np_ in xref.each_net_pair(cp):
            a, b = np_.first(), np_.second()
            if a is None or b is None or not a.name:
                continue
            # names a flattened sub-cell's label gave ("$1.source") say nothing about the top level
            names = {n.strip().lower() for n in a.name.split(",") if "." not in n} - {SUBSTRATE_NET}
            if names and b.name and b.name.lower() not in names:
                out.append(f"net label '{a.name}' in the layout is schematic net '{b.name}' "
                           f"(swapped or wrong pin label?)")
    return out


def report_text(result: LvsResult, lvs: db.LayoutVsSchematic) -> str:
    lines = [
        f"LVS {'MATCH' if result.match else 'MISMATCH'}: layout {result.top_cell} vs schematic "
        f"{result.schematic_circuit}",
        f"devices: layout {result.devices_layout} (after folding parallel fingers; "
        f"{result.dummies_dropped} dummies dropped), schematic {result.devices_schematic}",
        f"fingers: layout {result.fingers_layout:g}, schematic {result.fingers_schematic:g}",
        f"nets: layout {result.nets_layout}, schematic {result.nets_schematic}",
        f"time: {result.seconds:.2f} s",
        "",
    ]
    xref = lvs.xref()
    bad = (db.NetlistCrossReference.Mismatch, db.NetlistCrossReference.NoMatch)
    for cp in xref.each_circuit_pair():
        lines.append(f"circuit {cp.first().name if cp.first() else '(none)'} <-> "
                     f"{cp.second().name if cp.second() else '(none)'}: {_STATUS.get(cp.status(), cp.status())}")
        for np_ in xref.each_net_pair(cp):
            if np_.status() in bad:
                lines.append(f"  net     {_STATUS[np_.status()]:9s} layout {_net_name(np_.first()):20s} "
                             f"schematic {_net_name(np_.second())}")
        for dp in xref.each_device_pair(cp):
            if dp.status() in bad or dp.status() == db.NetlistCrossReference.MatchWithWarning:
                what = "PARAMS" if dp.status() == db.NetlistCrossReference.MatchWithWarning else _STATUS[dp.status()]
                lines.append(f"  device  {what:9s} layout {_dev_desc(dp.first())}  |  "
                             f"schematic {_dev_desc(dp.second())}")
        for pp in xref.each_pin_pair(cp):
            if pp.status() in bad:
                lines.append(f"  pin     {_STATUS[pp.status()]:9s} layout "
                             f"{pp.first().name() if pp.first() else '(none)'} schematic "
                             f"{pp.second().name() if pp.second() else '(none)'}")
    for p in result.finger_mismatches:
        lines.append(f"  fingers MISMATCH  {p}")
    for p in result.problems:
        lines.append(f"  name    MISMATCH  {p}")
    errors = [e for e in lvs.each_log_entry()] if hasattr(lvs, "each_log_entry") else []
    for e in errors:
        lines.append(f"  log     {e.to_s() if hasattr(e, 'to_s') else e}")
    return "\n".join(lines) + "\n"


def run_lvs(gds: str | os.PathLike, netlist: str | os.PathLike, *, cell: str | None = None,
            schematic_cell: str | None = None) -> LvsResult:
    t0 = time.perf_counter()
    layout = _load_layout(gds)
    reference = read_schematic(netlist)
    if cell:
        top = layout.cell(cell)
        if top is None:
            raise LvsInputError(f"cell {cell!r} not in {gds}")
    else:
        tops = layout.top_cells()
        if len(tops) != 1:
            raise LvsInputError(f"{gds}: expected one top cell, found {len(tops)} (use --cell)")
        top = tops[0]
    lvs = extract(layout, top)
    ok, ref_circuit, problems, dropped = compare(lvs, reference, top.name, schematic_cell)
    lay_circuit = lvs.netlist().circuit_by_name(top.name)
    result = LvsResult(
        match=bool(ok), top_cell=top.name, schematic_circuit=ref_circuit.name,
        devices_layout=_ndev(lay_circuit),
        devices_schematic=_ndev(ref_circuit),
        nets_layout=_nnet(lay_circuit),
        nets_schematic=_nnet(ref_circuit),
        dummies_dropped=dropped, seconds=time.perf_counter() - t0, problems=problems, lvs=lvs,
        finger_mismatches=_finger_mismatches(lvs), fingers_layout=_finger_count(lay_circuit),
        fingers_schematic=_finger_count(ref_circuit),
        layout_sha256=hashlib.sha256(Path(gds).read_bytes()).hexdigest(),
        schematic_sha256=hashlib.sha256(Path(netlist).read_bytes()).hexdigest())
    return result


def write_reports(result: LvsResult, out_dir: str | os.PathLike) -> dict[str, Path]:
    out = Path(out_dir)
    lvs = result.lvs
    paths = {"lvsdb": out / "lvs.lvsdb", "json": out / "lvs.json", "txt": out / "lvs.txt"}
    atomic_write(paths["lvsdb"], lambda tmp: lvs.write(tmp))
    text = report_text(result, lvs)

    def _txt(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    def _js(tmp: str) -> None:
        Path(tmp).write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")

    atomic_write(paths["txt"], _txt)
    atomic_write(paths["json"], _js)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m extract.lvs",
        description="LVS of a sky130 GDS against a SPICE netlist; writes DIR/lvs.lvsdb, "
                    "DIR/lvs.json and DIR/lvs.txt. Exit 0 match, 1 mismatch, 2 bad input.")
    parser.add_argument("gds", help="layout (GDS); its single top cell is compared")
    parser.add_argument("netlist", help="schematic SPICE netlist (subcircuit named like the top cell, or the only one)")
    parser.add_argument("-o", "--out", default=None, help="output folder (default: the GDS file's folder)")
    parser.add_argument("--cell", default=None, help="layout cell to compare (default: the top cell)")
    parser.add_argument("--schematic-cell", default=None, help="schematic subcircuit (default: same name as the cell)")
    args = parser.parse_args(argv)
    out_dir = Path(args.out) if args.out else Path(args.gds).resolve().parent
    try:
        result = run_lvs(args.gds, args.netlist, cell=args.cell, schematic_cell=args.schematic_cell)
    except LvsInputError as exc:
        print(f"extract.lvs: error: {exc}", file=sys.stderr)
        return 2
    paths = write_reports(result, out_dir)
    print(f"LVS {result.top_cell}: {'match' if result.match else 'MISMATCH'}; devices "
          f"{result.devices_layout}/{result.devices_schematic}, nets {result.nets_layout}/"
          f"{result.nets_schematic}, {result.seconds:.2f} s -> {paths['txt']}")
    return 0 if result.match else 1


if __name__ == "__main__":
    sys.exit(main())
