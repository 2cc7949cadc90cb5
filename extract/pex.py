"""Parasitic extraction with KPEX (klayout-pex, 2.5D engine) from the LVS database.

``python -m extract.pex LVSDB [-o DIR] [--mode C|RC]`` runs
``kpex extract --pdk sky130A --lvsdb LVSDB --2.5D`` in a scratch folder and turns its netlist
into ``pex.spice``, a drop-in replacement for ``schematic.spice``: the extracted circuit is
renamed ``<top>_pex_core`` (its unnamed internal nets, which KPEX exposes as ``\\$N`` ports,
become plain ``pex_N`` nodes) and wrapped in a sub-circuit named like the schematic's top with
exactly its pins; KPEX's substrate node ``sky130_gnd`` is the p-substrate, tied to ``vss``.
Small couplings, couplings between two signal nets and couplings to a supply are moved to the
substrate at both ends (:func:`ground_couplings`), which keeps each net's capacitance and makes
the matrix ngspice factors sparser. Also writes ``pex.json`` (capacitors, resistors, total_cap_fF, seconds).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bmru.cli import CommandParser, atomic_write, fail, progress, write_json
from generators.circuit.netlist import NetlistError, parse_spice
from pdk_sky130_180.devices import FETS
from pdk_sky130_180.pex import KPEX_PDK, SIDE_HALO_UM, SUBSTRATE_NET, SUBSTRATE_TIE

MODES = {"C": "CC", "RC": "RC"}  # our names -> KPEX's --mode values
FET_MODELS = tuple(fet.model for fet in FETS)


class PexError(RuntimeError):
    """KPEX failed or wrote nothing usable; the message carries the reason."""


@dataclass(frozen=True)
class PexResult:
    netlist: str  # pex.spice text
    capacitors: int
    resistors: int
    total_cap_fF: float
    seconds: float
    mode: str
    grounded_couplings: int = 0  # coupling capacitors below the floor, moved to the substrate
    grounded_fF: float = 0.0  # all moved capacitance: below the floor, between signal nets, to supplies
    coupling_floor_fF: float = 0.0
    signal_coupling_floor_fF: float = 0.0
    grounded_signal_couplings: int = 0  # signal couplings below their floor and supply couplings, moved
    halo_um: float | None = None  # None: KPEX's technology value
    sources: dict = field(default_factory=dict)  # SHA-256 of the lvsdb, schematic and layout used


_ESCAPED = re.compile(r"\\\$(\d+)")
_SCALE = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "a": 1e-18, "u": 1e-6, "m": 1e-3}


def _farads(text: str) -> float:
    text = text.lower()
    if text[-1] in _SCALE:
        return float(text[:-1]) * _SCALE[text[-1]]
    return float(text)


def kpex_command() -> str:
    """The kpex executable next to this interpreter (the .venv), else on PATH."""
    local = Path(sys.executable).with_name("kpex")
    return str(local) if local.exists() else "kpex"


def run_kpex(lvsdb: Path, cell: str, mode: str, workdir: Path, halo_um: float | None, threads: int = 1) -> Path:
    command = [kpex_command(), "extract", "--pdk", KPEX_PDK, "--lvsdb", str(lvsdb), "--cell", cell, "--2.5D",
               "--mode", MODES[mode], "--out-dir", str(workdir), "--threads", str(threads)]
    if halo_um is not None:
        command += ["--halo", f"{halo_um:g}"]
    try:
        proc = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise PexError("kpex not found: install klayout-pex (make setup)") from None
    found = sorted(workdir.rglob("*_k25d_pex_netlist.spice"))
    if proc.returncode != 0 or not found:
        tail = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()][-3:]
        raise PexError(f"kpex exited {proc.returncode}: {' | '.join(tail)}")
    return found[0]


_DEVICE_SIZE = re.compile(r"(?i)\b(w|l|as|ad|ps|pd)=(\S+)")


def _whole_fingers(width: float, unit: float) -> int | None:
    fingers = width / unit
    whole = int(round(fingers))
    return whole if whole >= 1 and abs(fingers - whole) < 1e-6 * max(fingers, 1.0) else None


def restore_fingers(text: str, unit_widths: dict[float, set[float]],
                    device_units: dict[str, float] | None = None) -> str:
    """Write each extracted MOSFET back as ``m`` identical fingers of the schematic's unit width.

    Extraction folds k parallel fingers of width w into one device of width k·w, but the
    sky130 models are binned by finger width (a 1 µm and an 8 µm device differ by more than
    8x in subthreshold), so the folded device would not simulate like the circuit. The unit
    width of a device comes from ``device_units`` (extracted device name such as ``$108`` ->
    the finger width of its schematic twin, from the LVS cross-reference). A width alone can
    be ambiguous: 24 µm is 24 fingers of 1 µm or 25 of 0.96 µm. Devices not in the map fall
    back to the first schematic unit width (same L) that divides W into whole fingers. Junction
    areas and perimeters are scaled back to one finger.
    """
    device_units = device_units or {}
    lines = []
    for line in text.splitlines():
        sizes = dict((k.lower(), v) for k, v in _DEVICE_SIZE.findall(line))
        if not line.upper().startswith("X") or "w" not in sizes or "l" not in sizes or " m=" in line.lower():
            lines.append(line)
            continue
        width, length = float(sizes["w"]), float(sizes["l"])
        known = device_units.get(line.split()[0][1:])
        candidates = [known] if known else sorted(unit_widths.get(round(length, 4), ()))
        best = next(((unit, n) for unit in candidates if (n := _whole_fingers(width, unit))), None)
        if best is None or best[1] == 1:
            lines.append(line)
            continue
        unit, fingers = best

        def per_finger(match: re.Match) -> str:
            key, value = match.group(1).lower(), float(match.group(2))
            if key == "w":
                return f"w={unit:g}"
            if key in ("as", "ad", "ps", "pd"):
                return f"{key}={value / fingers:.6g}"
            return match.group(0)

        lines.append(_DEVICE_SIZE.sub(per_finger, line) + f" m={fingers}")
    return "\n".join(lines) + "\n"


def device_units_from_lvs(lvsdb: Path, schematic_text: str) -> dict[str, float]:
    """Extracted device name (``$N``) -> finger width of the schematic device LVS paired it with."""
    import klayout.db as kdb

    from generators.circuit.netlist import flatten

    circuits = parse_spice(schematic_text)
    widths = {device.name.lower(): device.w_um for device in flatten(circuits, list(circuits)[-1])}
    lvs = kdb.LayoutVsSchematic()
    lvs.read(str(lvsdb))
    units: dict[str, float] = {}
    for circuit_pair in lvs.xref().each_circuit_pair():
        for pair in lvs.xref().each_device_pair(circuit_pair):
            layout_device, schematic_device = pair.first(), pair.second()
            if layout_device is None or schematic_device is None:
                continue
            # KLayout names a flattened schematic device by its instance path joined with "."
            width = widths.get(schematic_device.expanded_name().lower().replace(".", "/"))
            if width is not None:
                units[layout_device.expanded_name()] = width
    return units


def unit_widths_of(schematic_text: str) -> dict[float, set[float]]:
    """Finger widths the schematic uses, by gate length (µm)."""
    from generators.circuit.netlist import flatten

    circuits = parse_spice(schematic_text)
    widths: dict[float, set[float]] = {}
    for device in flatten(circuits, list(circuits)[-1]):
        widths.setdefault(round(device.l_um, 4), set()).add(device.w_um)
    return widths


# Coupling capacitors below this are moved to the substrate at both ends (each node keeps its
# total capacitance). On the reference array this moves 71 % of KPEX's capacitors (3499 of
# 4943, 7 % of the coupling capacitance) and runs ngspice ~2.5x faster with the same states
# and currents.
COUPLING_FLOOR_FF = 0.5

# Couplings between two signal nets (neither a switching net, see :func:`net_roles`) below this
# are moved to the substrate as well, and so is every coupling to a supply (an ideal source
# there: the same circuit). On the reference that moves 903 more couplings (2.5 pF, 1.7 of it
# to the supplies) and runs the extracted netlist 1.35x faster (29.9 -> 22.2 s per utterance,
# one free core) with the same decisions, frame states within 0.07 % and each utterance's
# power within 0.5 % on the balanced 50. With no floor (every signal coupling moved) it runs in
# 17-21 s, but a near-tie cell of utterance 22 then follows the schematic instead of the full
# extraction (benchmarks/results/pex_couplings.json). 0 moves none of these.
SIGNAL_COUPLING_FLOOR_FF = 5.0


def _subckt_blocks(lines: list[str]) -> list[tuple[str, tuple[str, ...], int, int]]:
    """(name, pins, index of .subckt line, index of .ends line) of each sub-circuit, lower-case names."""
    blocks, opened = [], None
    for index, line in enumerate(lines):
        words = line.split()
        if not words:
            continue
        head = words[0].lower()
        if head == ".subckt":
            opened = (words[1].lower(), tuple(w.lower() for w in words[2:] if "=" not in w), index)
        elif head == ".ends" and opened is not None:
            blocks.append((*opened, index))
            opened = None
    return blocks


def net_roles(lines: list[str]) -> tuple[set[str], set[str]]:
    """(switching nets, supplies) of ``lines``, one sub-circuit's elements. Supplies are the MOS
    bulk nets. Switching nets here are the MOS gate nets that no diode-connected device holds,
    other than the supplies. In a current-mode circuit every other gate is a mirror's, held by a
    diode at 1/gm and moving logarithmically, by tens of mV; what is left are the cells' decision
    nodes, their states, and the enables and reset the test bench drives. Not every net that
    swings from rail to rail is a gate: the channel nodes between a switch and its source (a
    cell's output steering node ``ha`` and hold node ``sp``) swing too and count as signal nets
    (docs/usage.md: counting them as switching kept more couplings and ran slower)."""
    gates: set[str] = set()
    held: set[str] = set()
    bulks: set[str] = set()
    for line in lines:
        words = line.split()
        if not words or words[0][0] not in "XxMm":
            continue
        positional = [word for word in words if "=" not in word]
        if words[0][0] in "Xx" and positional[-1] not in FET_MODELS:
            continue
        drain, gate, _, bulk = _element_nodes(words)[:4]
        gates.add(gate)
        bulks.add(bulk)
        if drain == gate:
            held.add(gate)
    bulks.discard(SUBSTRATE_NET)
    return gates - held - bulks - {SUBSTRATE_NET}, bulks


def ground_couplings(text: str, floor_fF: float, circuit: str | None = None,
                     signal_floor_fF: float = 0.0) -> tuple[str, int, int, float]:
    """Replace coupling capacitors by capacitors of the same value from each of their nodes to
    the substrate, inside ``circuit`` (default: the sub-circuit that has the substrate net as a
    pin, i.e. the extracted core, so that the substrate node is the one the wrapper ties to
    vss): each one smaller than ``floor_fF``; and with ``signal_floor_fF`` > 0 each one between
    two signal nets smaller than that, and each one to a supply (:func:`net_roles`). Couplings
    that touch a switching net stay above ``floor_fF``. Every node keeps its total capacitance,
    and its capacitors to the substrate become one. Returns (text, moved below the floor, moved
    signal and supply couplings, moved total fF)."""
    if floor_fF <= 0 and signal_floor_fF <= 0:
        return text, 0, 0, 0.0
    lines = text.splitlines()
    blocks = _subckt_blocks(lines)
    if circuit is None:
        owners = [block for block in blocks if SUBSTRATE_NET in block[1]]
    else:
        owners = [block for block in blocks if block[0] == circuit.lower()]
    if len(owners) != 1:
        raise PexError(f"netlist: expected one sub-circuit {circuit or 'with the substrate pin ' + SUBSTRATE_NET}, "
                       f"found {len(owners)}")
    _, pins, first, last = owners[0]
    if SUBSTRATE_NET not in pins:
        raise PexError(f"netlist: sub-circuit {owners[0][0]} has no substrate pin {SUBSTRATE_NET}")
    body_lines = lines[first + 1:last]
    switching, supplies = net_roles(body_lines) if signal_floor_fF > 0 else (set(), set())
    kept: list[str] = []
    to_ground: dict[str, float] = {}
    small, signal, moved_fF = 0, 0, 0.0
    for line in body_lines:
        words = line.split()
        if len(words) >= 4 and words[0][0] in "Cc" and SUBSTRATE_NET in (words[1], words[2]):
            # folded into the node's one capacitor to the substrate below (fewer elements to load)
            node = words[2] if words[1] == SUBSTRATE_NET else words[1]
            to_ground[node] = to_ground.get(node, 0.0) + _farads(words[3]) * 1e15
            continue
        if len(words) >= 4 and words[0][0] in "Cc":
            value_fF = _farads(words[3]) * 1e15
            nodes = set(words[1:3])
            below_floor = value_fF < floor_fF
            quiet = signal_floor_fF > 0 and not nodes & switching and (
                bool(nodes & supplies) or value_fF < signal_floor_fF)
            if below_floor or quiet:
                for node in words[1:3]:
                    to_ground[node] = to_ground.get(node, 0.0) + value_fF
                small += below_floor
                signal += not below_floor
                moved_fF += value_fF
                continue
        kept.append(line)
    if not small and not signal:
        return text, 0, 0, 0.0
    grounded = [f"Cgnd_{index} {node} {SUBSTRATE_NET} {value:.6g}f"
                for index, (node, value) in enumerate(sorted(to_ground.items()))]
    body = lines[:first + 1] + kept + grounded + lines[last:]
    return "\n".join(body) + "\n", small, signal, moved_fF


def _element_nodes(words: list[str]) -> list[str]:
    """Nodes of one element line (C/R/V/I: two, M: four, X: all before the sub-circuit name)."""
    kind = words[0][0].upper()
    if kind in "CRLVI":
        return words[1:3]
    if kind == "M":
        return words[1:5]
    if kind == "X":
        positional = [w for w in words[1:] if "=" not in w]
        return positional[:-1]
    return []


def floating_nodes(text: str) -> list[tuple[str, str]]:
    """(sub-circuit, node) pairs where the node touches only capacitors and is not a pin of its
    sub-circuit: no DC path anywhere, so it floats (ngspice accepts it silently)."""
    lines = text.splitlines()
    found = []
    for name, pins, first, last in _subckt_blocks(lines):
        only_caps: dict[str, bool] = {}
        for line in lines[first + 1:last]:
            words = line.split()
            if not words or words[0][0] in "*.+":
                continue
            capacitor = words[0][0] in "Cc"
            for node in _element_nodes(words):
                node = node.lower()
                only_caps[node] = only_caps.get(node, True) and capacitor
        found += [(name, node) for node, caps in sorted(only_caps.items())
                  if caps and node not in pins and node != "0"]
    return found


def check_floating_nodes(text: str) -> None:
    """Raise :class:`PexError` naming the first node that connects only to capacitors."""
    floating = floating_nodes(text)
    if floating:
        circuit, node = floating[0]
        more = f" (and {len(floating) - 1} more)" if len(floating) > 1 else ""
        raise PexError(f"pex netlist: node {node} in sub-circuit {circuit} connects only to capacitors{more}")


PROVENANCE_TAG = "* bmru-pex:"


def provenance_line(record: dict[str, str]) -> str:
    """One comment line tying a pex.spice to the LVS database and layout it was extracted from."""
    return PROVENANCE_TAG + " " + " ".join(f"{key}={value}" for key, value in sorted(record.items()))


def provenance(text: str) -> dict[str, str] | None:
    """The provenance record of an extracted netlist (None: not written by this module)."""
    for line in text.splitlines()[:20]:
        if line.startswith(PROVENANCE_TAG):
            return dict(word.split("=", 1) for word in line[len(PROVENANCE_TAG):].split() if "=" in word)
    return None


KPEX_DATE = re.compile(r"(?m)^\*+\s*Date:.*\n")  # KPEX's header stamps the run's date and time


def wrap_netlist(kpex_text: str, top: str, pins: tuple[str, ...],
                 unit_widths: dict[float, set[float]] | None = None,
                 device_units: dict[str, float] | None = None) -> tuple[str, int, int, float]:
    """KPEX's netlist → drop-in netlist with the schematic's top name and pins.

    Returns (text, capacitors, resistors, total capacitance in fF) as extracted.
    """
    text = _ESCAPED.sub(r"pex_\1", re.sub(r"\n\+", " ", kpex_text))
    text = KPEX_DATE.sub("", text)  # the same extraction must give the same bytes
    if unit_widths:
        text = restore_fingers(text, unit_widths, device_units)
    core = f"{top}_pex_core"
    circuits = parse_spice(text)
    if top.lower() not in circuits:
        raise PexError(f"kpex netlist has no sub-circuit {top!r}")
    core_pins = circuits[top.lower()].pins
    missing = [p for p in pins if p.lower() not in core_pins]
    if missing:
        raise PexError(f"kpex netlist lacks the schematic's pins: {', '.join(missing)}")
    text = re.sub(rf"(?im)^(\.subckt|\.ends)\s+{re.escape(top)}\b", lambda m: f"{m.group(1)} {core}", text)
    connections = [SUBSTRATE_TIE if p == SUBSTRATE_NET else p for p in core_pins]
    capacitors = resistors = 0
    total = 0.0
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0][0] in "Cc" and len(words) >= 4:
            capacitors += 1
            total += _farads(words[3])
        elif words[0][0] in "Rr" and len(words) >= 4:
            resistors += 1
    wrapper = "\n".join([
        f"* Post-layout netlist of {top}: KPEX 2.5D parasitics around the extracted devices.",
        f"* Drop-in for the schematic: same sub-circuit name and pins; substrate ({SUBSTRATE_NET}) tied to {SUBSTRATE_TIE}.",
        text.rstrip(),
        "",
        f".subckt {top} {' '.join(pins)}",
        f"Xcore {' '.join(connections)} {core}",
        f".ends {top}",
        "",
    ])
    return wrapper, capacitors, resistors, total * 1e15


def net_capacitances(netlist: str) -> dict[str, float]:
    """Total capacitance (fF) touching each net of a netlist's capacitors (to substrate and to
    other nets), e.g. to compare two extractions of the same layout."""
    totals: dict[str, float] = {}
    for line in netlist.splitlines():
        words = line.split()
        if len(words) >= 4 and words[0][0] in "Cc":
            value = _farads(words[3]) * 1e15
            for net in words[1:3]:
                totals[net] = totals.get(net, 0.0) + value
    return totals


def check_lvsdb(lvsdb: Path) -> None:
    """Refuse a file klayout.db cannot read as an LVS database with an extracted netlist (KPEX
    would fail on it with a Python traceback)."""
    import klayout.db as kdb

    lvs = kdb.LayoutVsSchematic()
    try:
        lvs.read(str(lvsdb))
        extracted = lvs.netlist() is not None and lvs.netlist().top_circuit_count() > 0
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise PexError(f"{lvsdb}: not a readable LVS database ({first})") from None
    if not extracted:
        raise PexError(f"{lvsdb}: the LVS database holds no extracted netlist (run make lvs)")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_digests(lvsdb: Path, schematic: Path) -> dict[str, str]:
    """SHA-256 of the LVS database and schematic extracted from, and of the layout that LVS
    read (recorded in the ``lvs.json`` beside the database, when it is there)."""
    record = {"lvsdb_sha256": _sha256(lvsdb), "schematic_sha256": _sha256(schematic)}
    lvs_json = lvsdb.with_name("lvs.json")
    if lvs_json.is_file():
        try:
            layout = json.loads(lvs_json.read_text()).get("layout_sha256")
        except json.JSONDecodeError:
            layout = None
        if layout:
            record["layout_sha256"] = str(layout)
    return record


def extract_parasitics(lvsdb: str | os.PathLike, schematic: str | os.PathLike, cell: str | None = None,
                       mode: str = "C", halo_um: float | None = SIDE_HALO_UM,
                       coupling_floor_fF: float = COUPLING_FLOOR_FF, threads: int = 1,
                       signal_floor_fF: float = SIGNAL_COUPLING_FLOOR_FF) -> PexResult:
    lvsdb, schematic = Path(lvsdb), Path(schematic)
    if mode not in MODES:
        raise PexError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if not lvsdb.is_file():
        raise PexError(f"{lvsdb}: no such LVS database (run make lvs first)")
    if not schematic.is_file():
        raise PexError(f"{schematic}: no such schematic netlist")
    try:
        circuits = parse_spice(schematic.read_text())
    except NetlistError as error:
        raise PexError(f"{schematic}: {error}") from None
    if not circuits:
        raise PexError(f"{schematic}: no sub-circuit")
    top = (cell or list(circuits)[-1]).lower()
    if top not in circuits:
        raise PexError(f"{schematic}: no sub-circuit {top!r}")
    check_lvsdb(lvsdb)
    start = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="bmru_kpex_"))
    try:
        kpex_netlist = run_kpex(lvsdb, top, mode, workdir, halo_um, threads)
        schematic_text = schematic.read_text()
        text, caps, res, total = wrap_netlist(kpex_netlist.read_text(), top, circuits[top].pins,
                                              unit_widths_of(schematic_text),
                                              device_units_from_lvs(lvsdb, schematic_text))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text, moved, moved_signal, moved_fF = ground_couplings(text, coupling_floor_fF, f"{top}_pex_core",
                                                           signal_floor_fF)
    check_floating_nodes(text)
    record = source_digests(lvsdb, schematic)
    text = provenance_line(record) + "\n" + text
    return PexResult(text, caps, res, total, time.perf_counter() - start, mode, moved, moved_fF,
                     coupling_floor_fF, signal_floor_fF, moved_signal, halo_um, record)


def write_outputs(result: PexResult, out: str | os.PathLike) -> tuple[Path, Path]:
    out = Path(out)
    netlist_path, json_path = out / "pex.spice", out / "pex.json"
    atomic_write(netlist_path, lambda tmp: Path(tmp).write_text(result.netlist))
    write_json(json_path, {"capacitors": result.capacitors, "resistors": result.resistors,
                           "total_cap_fF": round(result.total_cap_fF, 3), "seconds": round(result.seconds, 2),
                           "mode": result.mode, "engine": "kpex-2.5D",
                           "halo_um": result.halo_um, "coupling_floor_fF": result.coupling_floor_fF,
                           "grounded_couplings": result.grounded_couplings,
                           "signal_coupling_floor_fF": result.signal_coupling_floor_fF,
                           "grounded_signal_couplings": result.grounded_signal_couplings,
                           "grounded_fF": round(result.grounded_fF, 3), **result.sources})
    return netlist_path, json_path


def main(argv: list[str] | None = None) -> None:
    parser = CommandParser(
        prog="python -m extract.pex",
        description="Parasitic extraction (KPEX 2.5D) from an LVS database; writes pex.spice "
                    "(drop-in for schematic.spice) and pex.json.")
    parser.add_argument("lvsdb", help="LVS database written by extract.lvs (lvs.lvsdb)")
    parser.add_argument("-s", "--schematic", default=None,
                        help="schematic netlist giving the top circuit's pins (default: schematic.spice beside LVSDB)")
    parser.add_argument("-o", "--out", default=None, help="output folder (default: the LVSDB's folder)")
    parser.add_argument("--cell", default=None, help="top circuit (default: the schematic's last sub-circuit)")
    parser.add_argument("--mode", choices=sorted(MODES), default="C",
                        help="C: capacitances only (default); RC: wire resistances too")
    parser.add_argument("--halo", type=float, default=SIDE_HALO_UM,
                        help="sidewall coupling halo in µm (default: %(default)s; 0 = KPEX's technology value)")
    parser.add_argument("--threads", type=int, default=1,
                        help="KPEX worker threads (default %(default)s: the flow runs it beside a simulation)")
    parser.add_argument("--coupling-floor", type=float, default=COUPLING_FLOOR_FF, metavar="FF",
                        help="coupling capacitors below this many fF are moved to the substrate at both "
                             "ends (0 keeps every one; default: %(default)s)")
    parser.add_argument("--signal-coupling-floor", type=float, default=SIGNAL_COUPLING_FLOOR_FF, metavar="FF",
                        help="couplings between two signal nets (neither one a switching gate net: a cell's "
                             "decision node or state, an enable, reset) below this many fF, and couplings to a "
                             "supply, are moved to the substrate at both ends (0 moves none; default: %(default)s)")
    args = parser.parse_args(argv)
    if args.halo < 0:
        fail(f"--halo: expected >= 0 µm, got {args.halo:g}")
    if args.threads < 1:
        fail(f"--threads: expected >= 1, got {args.threads}")
    if args.coupling_floor < 0:
        fail(f"--coupling-floor: expected >= 0 fF, got {args.coupling_floor:g}")
    if args.signal_coupling_floor < 0:
        fail(f"--signal-coupling-floor: expected >= 0 fF, got {args.signal_coupling_floor:g}")
    lvsdb = Path(args.lvsdb)
    schematic = Path(args.schematic) if args.schematic else lvsdb.with_name("schematic.spice")
    progress(f"[pex] kpex 2.5D ({args.mode}) on {lvsdb}")
    try:
        result = extract_parasitics(lvsdb, schematic, args.cell, args.mode, args.halo or None, args.coupling_floor,
                                    args.threads, args.signal_coupling_floor)
    except PexError as error:
        fail(str(error))
    netlist_path, _ = write_outputs(result, args.out or lvsdb.parent)
    progress(f"[pex] {result.capacitors} capacitors, {result.resistors} resistors, "
             f"{result.total_cap_fF:.1f} fF in {result.seconds:.1f} s -> {netlist_path}")
    if result.grounded_couplings or result.grounded_signal_couplings:
        progress(f"[pex] {result.grounded_couplings} couplings below {result.coupling_floor_fF:g} fF and "
                 f"{result.grounded_signal_couplings} between signal nets or to a supply ({result.grounded_fF:.1f} fF) "
                 f"moved to the substrate")


if __name__ == "__main__":
    main()
