"""LVS of a sky130 GDS against a SPICE netlist, in klayout.db Python.

Device extraction follows the sky130A deck KPEX ships, restricted to the layers our cells draw,
and names the extracted layers as that deck does (``nsd``, ``psd``, ``ptap_conn``,
``ntap_conn``, ``poly_con``, ``li_con``, ``met1_con``, ``met2_con``, ``met3_ncap``,
``licon_*_con``, ``mcon_con``, ``via1_con``, ``via2_con``, ``*_pin_con``, ``*_label``, ``sub``)
so that ``kpex --pdk sky130A --lvsdb lvs.lvsdb --cell TOP --2.5D`` reads the result.

- nfet ``sky130_fd_pr__nfet_01v8`` / pfet ``sky130_fd_pr__pfet_01v8`` (1.8 V, no lvt/hvt
  markers) with W and L (µm); the nfet bulk is the substrate (layer ``sub``, the global net
  ``sky130_gnd``, which every p+ tap joins), the pfet bulk its n-well.
- Parallel fingers (same L, same four nets) fold into one device with the summed W; the
  schematic's ``m=k`` (or ``mult``) folds the same way (W x m), so k unit fingers in the layout
  equal one ``m=k`` instance. Devices whose source and drain are one net (dummies) are
  dropped from the layout netlist before the comparison.
- Nets named by a pin label in the layout must carry the same name as their partner in the
  schematic (this catches swapped labels, which the topological comparison cannot).

Writes ``lvs.lvsdb`` (KLayout netlist browser), ``lvs.json`` (``match``, ``devices_layout``,
``devices_schematic``, ``nets_layout``, ``nets_schematic``, ``seconds`` and more) and
``lvs.txt`` (a readable report naming every mismatching net and device).

Usage::

    python -m extract.lvs GDS NETLIST [-o DIR] [--cell NAME]

Exit status: 0 match, 1 mismatch (after writing the reports), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


import klayout.db as db

from bmru.weights import atomic_write
from pdk_sky130_180 import layers as L
from pdk_sky130_180.devices import NFET, PFET
from pdk_sky130_180.pex import SUBSTRATE_NET  # KPEX's name for the substrate net

MOS_MODELS = (NFET, PFET)
W_TOLERANCE_REL = 1e-3
L_TOLERANCE_REL = 1e-3

__all__ = ["LvsResult", "LvsInputError", "run_lvs", "main", "SUBSTRATE_NET"]


class LvsInputError(Exception):
    """Missing or unreadable GDS or netlist, or no circuit to compare."""


# ---------------------------------------------------------------------------------------
# schematic reading
# ---------------------------------------------------------------------------------------
def _um(value: float) -> float:
    """A SPICE length to µm: sky130 netlists give µm (``w=1``), SI netlists metres (``1e-6``)."""
    return value * 1e6 if 0 < abs(value) < 1e-3 else value


class _SpiceDelegate(db.NetlistSpiceReaderDelegate):
    """Reads sky130 MOS subcircuit calls (``X... d g s b sky130_fd_pr__nfet_01v8 w= l= m=``)
    and ``M`` elements as MOS4 devices with W = w x m and L in µm."""

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
            circuit.netlist().add(cls)
            classes[model.lower()] = cls
        dev = circuit.create_device(cls, name)
        for term, net in zip(("D", "G", "S", "B"), nets):
            dev.connect_terminal(term, net)
        p = {k.upper(): v for k, v in params.items()}
        mult = p.get("M", 1.0) * p.get("MULT", 1.0)
        w = _um(p.get("W", 0.0))
        dev.set_parameter("W", w * mult)
        dev.set_parameter("L", _um(p.get("L", 0.0)))
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
    poly, li = poly_con, li_con
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
    for a, b in ((sub, ptap_conn), (nwell, ntap_conn), (ptap_conn, licon), (ntap_conn, licon),
                 (psd, licon), (nsd, licon), (poly_con, licon_npc), (licon_npc, licon),
                 (licon, li_con), (li_con, mcon_con), (mcon_con, met1_con), (met1_con, via1_con),
                 (via1_con, met2_con), (met2_con, via2_con), (via2_con, met3_ncap),
                 (licon_poly_con, licon), (licon_nsd_con, licon), (licon_psd_con, licon),
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
    """Remove MOS devices whose source and drain are the same net (dummy fingers)."""
    dropped = 0
    for circuit in netlist.each_circuit():
        for dev in list(circuit.each_device()):
            cls = dev.device_class()
            if not isinstance(cls, db.DeviceClassMOS4Transistor) and cls.name not in MOS_MODELS:
                continue
            s, d = dev.net_for_terminal("S"), dev.net_for_terminal("D")
            if s is not None and d is not None and s.cluster_id == d.cluster_id:
                circuit.remove_device(dev)
                dropped += 1
    return dropped


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
    lvs: db.LayoutVsSchematic | None = field(default=None, repr=False)

    def summary(self) -> dict:
        return {
            "match": self.match,
            "devices_layout": self.devices_layout,
            "devices_schematic": self.devices_schematic,
            "nets_layout": self.nets_layout,
            "nets_schematic": self.nets_schematic,
            "seconds": round(self.seconds, 3),
            "top_cell": self.top_cell,
            "schematic_circuit": self.schematic_circuit,
            "dummies_dropped": self.dummies_dropped,
            "problems": len(self.problems),
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


def _dev_desc(dev) -> str:
    if dev is None:
        return "(none)"
    params = " ".join(f"{p.name}={dev.parameter(p.name):.4g}" for p in dev.device_class().parameter_definitions()
                      if p.name in ("W", "L"))
    nets = " ".join(f"{t.name}={_net_name(dev.net_for_terminal(t.id()))}"
                    for t in dev.device_class().terminal_definitions())
    return f"{dev.expanded_name()} {dev.device_class().name} {params} [{nets}]"


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
    layout_nl.flatten()
    for circuit in [c for c in reference.each_circuit() if c.name != ref_circuit.name]:
        reference.flatten_circuit(circuit)
    dropped = _drop_dummies(layout_nl)
    layout_nl.combine_devices()
    layout_nl.make_top_level_pins()
    layout_nl.purge_nets()
    reference.combine_devices()
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
        dummies_dropped=dropped, seconds=time.perf_counter() - t0, problems=problems, lvs=lvs)
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
        print(f"extract.lvs: {exc}", file=sys.stderr)
        return 2
    paths = write_reports(result, out_dir)
    print(f"LVS {result.top_cell}: {'match' if result.match else 'MISMATCH'}; devices "
          f"{result.devices_layout}/{result.devices_schematic}, nets {result.nets_layout}/"
          f"{result.nets_schematic}, {result.seconds:.2f} s -> {paths['txt']}")
    return 0 if result.match else 1


if __name__ == "__main__":
    sys.exit(main())
