"""SPICE sub-circuits of the current-mode BMRU array (text generators, one per block).

Conventions shared by every block
---------------------------------
- A *signal* is a current flowing into a stack of two diode-connected NMOS of
  ``REF_FINGERS`` unit fingers each: the summing node ``t`` is the top diode's drain/gate, the
  node ``a`` between them the bottom diode's. Current cannot flow backwards into the diodes, so
  the node that feeds them computes ReLU of its net current for free.
- Every NMOS output (a sink for a negative weight, a converter) is a cascoded pair: the bottom
  device (gate ``a``) sets the current, the cascode (gate ``t``) keeps the bottom's drain at the
  bottom diode's voltage whatever the output node does. Without it the NMOS model's drain
  current rises ~20 %/V of drain voltage (DESIGN.md section 3) and sums that nearly cancel
  come out wrong by tens of percent.
- Where a signal must be *sourced* (positive weights, residual copies) a *converter* copies a
  quarter of it (1 NMOS finger against the 4-finger diode) into a 1-finger diode-connected PMOS
  (the "p-line"); a PMOS output of k fingers then sources k/4 of the signal (PMOS drain
  sensitivity is only ~1-2 %/V).
- Devices are unit fingers (:class:`DeviceSet`, ``unit_um`` x ``unit_um``); a parameter of k fingers is ONE
  instance with ``m=k``. NMOS bulks go to ``vss``, PMOS bulks to the block's ``vdd``.
- Instance names say which learned parameter a device realises: ``XW_c0_r1_c2`` is
  ``W_c0[1, 2]`` (``XW_c0_r1_c2_cas`` its cascode when it is a sink), ``Xb_o1_r3`` is ``b_o1[3]``; in a cell ``Xbeta2``, ``Xdelta``, ``Xalpha`` and
  ``Xreset`` realise ``beta1 + delta``, ``delta``, ``alpha`` and ``s0``.

No element other than MOSFET sub-circuit instances and block instances appears inside a
``.subckt`` (LVS and the layout reader see only devices).
"""

from __future__ import annotations

from generators.circuit.unit_devices import (DEVICES_1UM, KEEPER_NFET, KEEPER_PFET, SWITCH_NFET, SWITCH_PFET,
                                             DeviceSet, UnitDevice, device_set)
from generators.circuit.mapping import (BIAS_LINE_FINGERS, CONVERTER_FINGERS, REF_FINGERS, SHIPPED_SIZING, CellSpec,
                                        HardwareSpec, Projection, Sizing)
from pdk_sky130_180.devices import MIN_W_UM, NMOS, PMOS


# The shipped unit size's devices, for code that is not about a particular spec.
UNIT_NFET = DEVICES_1UM.unit_nfet
UNIT_PFET = DEVICES_1UM.unit_pfet


def threshold_finger_width(fingers: int) -> float:
    """Threshold finger width (µm) at the shipped unit size (:meth:`DeviceSet.threshold_finger_width`)."""
    return DEVICES_1UM.threshold_finger_width(fingers)


# A constant sink of about a tenth of a cell step on the comparator node, so both thresholds sit
# that much below beta2 / beta1: a candidate exactly on a threshold then does what the
# software does (c >= beta2 sets, c >= beta1 holds). With integer weights and grid thresholds
# such ties are common (e.g. c = b_c when the inputs are silent).
TIE_DEVICE = UnitDevice(NMOS, MIN_W_UM, 20.0)

HOLD_FINGERS = 4  # inverter load of a cell: four cell-bias fingers (0.2 sigma units)
KEEPER_STARVING_FINGERS = HOLD_FINGERS  # the keeper feedback's current limit, each way


def _subckt(name: str, pins: list[str], body: list[str], comment: str) -> str:
    head = [f"* {line}" for line in comment.strip().splitlines()]
    return "\n".join(head + [f".subckt {name} {' '.join(pins)}"] + body + [f".ends {name}", ""])


def diode_fingers_for_inputs(spec: HardwareSpec) -> int:
    """Input diodes are ``REF_FINGERS / sigma`` wide: pin current x*unit becomes sigma*x inside."""
    return int(round(REF_FINGERS / spec.internal_scale))


# --------------------------------------------------------------------------------------
# bias generator


BIAS_NAME = "bmru_bias"
BIAS_PINS = ["iref", "nb", "pb", "nc", "vdd", "vss"]


def bias_block(spec: HardwareSpec) -> str:
    """All bias lines from the iref pin (one unit current).

    iref flows through a stack of two diode-connected NMOS of 4/sigma fingers each: the bottom
    node ``nb`` is the NMOS line of 0.25 sigma per finger (b < 0 sinks); the top node, the
    ``iref`` pin itself, sits at about twice a diode voltage and is the cascode gate (``ncas``)
    of every n->p converter, which keeps the converters' drains near their references' drains
    (the NMOS model's drain current rises ~20 %/V otherwise). Derived lines, each one
    0.25 sigma branch: ``pb`` PMOS 0.25 sigma per finger (b > 0 sources), ``nc`` NMOS 0.05
    sigma per finger (delta sinks). Each cell makes its own PMOS line from ``nb`` (see
    :func:`cell_block`).
    """
    devices = device_set(spec.sizing.unit_um)
    n, p = devices.unit_nfet, devices.unit_pfet
    ref = diode_fingers_for_inputs(spec)
    copies = spec.sizing.bias_line_copies
    body = [
        n.line("Ncas", "iref", "iref", "nb", "vss", ref),
        n.line("Nref", "nb", "nb", "vss", "vss", ref),
        n.line("Npb", "kpb", "nb", "vss", "vss", copies),
        n.line("Cpb", "pb", "iref", "kpb", "vss", copies),
        devices.pmos_diode.line("Ppb", "pb", "pb", "vdd", "vdd", copies),
        p.line("Pnc", "nc", "pb", "vdd", "vdd", copies),
        devices.delta_line_diode.line("Nnc", "nc", "nc", "vss", "vss", BIAS_LINE_FINGERS * copies),
    ]
    return _subckt(BIAS_NAME, BIAS_PINS, body, "Bias generator: every bias current derives from the iref pin.")


# --------------------------------------------------------------------------------------
# receivers: ReLU diodes and n->p converters


def receiver_name(bundle: str) -> str:
    return f"rx_{bundle}"


def receiver_pins(size: int, converters: tuple[bool, ...]) -> list[str]:
    pins = [f"t{i}" for i in range(size)] + [f"a{i}" for i in range(size)]
    return pins + [f"p{i}" for i in range(size) if converters[i]] + ["vdd", "vss"]


def sink(name: str, drain: str, gate_a: str, gate_t: str, m: int, devices: DeviceSet = DEVICES_1UM) -> list[str]:
    """A cascoded NMOS mirror output of ``m`` fingers: bottom (gate ``a``) and cascode (gate ``t``)."""
    mid = f"k_{name}"
    n = devices.unit_nfet
    return [n.line(name, mid, gate_a, "vss", "vss", m), n.line(f"{name}_cas", drain, gate_t, mid, "vss", m)]


def receiver_block(bundle: str, diode_fingers: int, converters: tuple[bool, ...],
                   devices: DeviceSet = DEVICES_1UM, converter_copies: int = 1) -> str:
    """Per signal: the ReLU diode stack (``t`` over ``a``) and, where needed, the p-line: a
    quarter of the signal per converter copy, into a PMOS diode of as many fingers."""
    n = devices.unit_nfet
    body = []
    for i, convert in enumerate(converters):
        body.append(n.line(f"T{i}", f"t{i}", f"t{i}", f"a{i}", "vss", diode_fingers))
        body.append(n.line(f"D{i}", f"a{i}", f"a{i}", "vss", "vss", diode_fingers))
        if convert:
            body += sink(f"K{i}", f"p{i}", f"a{i}", f"t{i}", CONVERTER_FINGERS * converter_copies, devices)
            body.append(devices.pmos_diode.line(f"P{i}", f"p{i}", f"p{i}", "vdd", "vdd", converter_copies))
    return _subckt(receiver_name(bundle), receiver_pins(len(converters), converters), body,
                   f"Receiver of signals {bundle}: ReLU diode stacks ({diode_fingers} fingers) and n->p converters.")


# --------------------------------------------------------------------------------------
# projections (mirror groups)


def projection_name(projection: Projection) -> str:
    return f"fc_{projection.name}"


def positive_columns(projection: Projection) -> tuple[bool, ...]:
    return tuple(any(row[j] > 0 for row in projection.weight_fingers) for j in range(projection.cols))


def projection_pins(projection: Projection) -> list[str]:
    need_p = positive_columns(projection)
    return ([f"st{j}" for j in range(projection.cols)] + [f"sa{j}" for j in range(projection.cols)]
            + [f"sp{j}" for j in range(projection.cols) if need_p[j]]
            + [f"t{i}" for i in range(projection.rows)] + ["iref", "nb", "pb", "vdd", "vss"])


def projection_block(projection: Projection, devices: DeviceSet = DEVICES_1UM) -> str:
    """One mirror output per non-zero weight and bias; the outputs of a row meet at node ``t<row>``.

    Positive: a PMOS of k fingers on the column's p-line (or ``pb`` for a bias). Negative: a
    cascoded NMOS pair of k fingers on the column's ``a``/``t`` lines (or ``nb``/``iref``).
    """
    p = devices.unit_pfet
    key = projection.weight_key
    body = []
    for i, row in enumerate(projection.weight_fingers):
        for j, k in enumerate(row):
            name = f"W_{key[2:]}_r{i}_c{j}"
            if k > 0:
                body.append(p.line(name, f"t{i}", f"sp{j}", "vdd", "vdd", k))
            elif k < 0:
                body += sink(name, f"t{i}", f"sa{j}", f"st{j}", -k, devices)
        k = projection.bias_fingers[i]
        name = f"b_{projection.bias_key[2:]}_r{i}"
        if k > 0:
            body.append(p.line(name, f"t{i}", "pb", "vdd", "vdd", k))
        elif k < 0:
            body += sink(name, f"t{i}", "nb", "iref", -k, devices)
    return _subckt(projection_name(projection), projection_pins(projection), body,
                   f"Mirror group {key} / {projection.bias_key}: "
                   f"{projection.rows} summing nodes from {projection.cols} signals.")


# --------------------------------------------------------------------------------------
# the BMRU cell


CELL_PINS = ["c", "h", "st", "rst", "en", "enb", "nb", "ncas", "nc", "vdd", "vss"]


def cell_name(cell: CellSpec) -> str:
    return f"bmru_{cell.name}"


def cell_block(cell: CellSpec, sizing: Sizing = SHIPPED_SIZING) -> str:
    """Current-mode Schmitt trigger with its own threshold bias line, 20 transistors (26 with the
    state keeper).

    ``c``: candidate summing node, into the ReLU diode stack ``T1``/``M1``; ``M2`` (cascoded by
    ``M2c``) copies it into the
    comparator node ``x`` where it fights the threshold source ``Xbeta2`` (beta2 = beta1 + delta).
    ``Xclamp`` (a PMOS diode to ground) stops ``x`` near 1 V instead of the rail, so ``x`` has a
    small swing to cover before the cell flips. ``c`` above beta2 pulls ``x`` below the trip
    point of ``Xinv`` (an NMOS whose load ``Xhold`` is a small bias current, so the inverter
    never draws more than that), the state node ``st`` rises, ``Xdsw`` switches the width sink
    ``Xdelta`` onto ``x`` (positive feedback: the cell now resets only when c + delta < beta2,
    i.e. c < beta1) and ``Xasw`` steers the output source ``Xalpha`` from ``Xdump`` (gate ``x``,
    to ground) to ``h``, so ``Xalpha``'s drain hardly moves. ``Xreset`` (gate ``rst``) presets
    the state to ``s0``: it pulls ``x`` low (state 1) or ``st`` low (state 0). ``Xtie`` sinks about a
    tenth of a step from ``x`` so that exact ties go the software's way (see ``TIE_DEVICE``).

    Frame-synchronous state: the inverter reaches ``st`` only through two switches, ``Xsample_n``
    (under ``Xinv``, gate ``en``) and ``Xsample_p`` (under ``Xhold``, gate ``enb``, the layer's
    inverted enable; an inverter in each cell would draw its crossing current on every slow
    enable edge, ~10 nW per cell). While the layer's enable ``en`` is low, at the start of each
    frame, ``st`` holds its charge whatever ``x`` does: the candidate
    overshoots while the inputs step (the chip's signal paths settle at different speeds), and
    without the switches an overshoot past beta2 would set a cell for good (it then holds the
    error as long as its candidate stays above beta1). Layers are enabled one after the other
    (``sim.stimulus.enable_points``), so a layer decides after the one below has settled, as in
    the model.

    With ``sizing.state_keeper`` the held state is not charge: ``Xkinvp``/``Xkinvn`` invert
    ``st`` to ``stb``, and while ``en`` is low a clocked inverter (``Xkup`` under ``Xkupsw``, gate
    ``en``; ``Xkdn`` under ``Xkdnsw``, gate ``enb``) drives ``st`` back from ``stb``. While ``en``
    is high the feedback is off and the sampling path writes ``st`` alone, as without it. Without
    the keeper, leakage of the off switches drains a held 1 within ~2 ms at 85 °C (at 27 °C it
    droops 0.25 V in 5 ms), and a cell between its thresholds forgets its state. The feedback is
    starved (``Xkstp`` on ``pc``, ``Xkstn`` on ``nc``: as many cell-bias fingers as the hold
    source, ~0.1 nA): far above the leakage it beats, and too little to swing ``st`` within a
    simulator step. Unstarved (µA), its latch's other state was also a solution of a long
    transient step, and ngspice flipped held states with nothing driving them (docs/robustness.md).

    ``XKpc``/``XCpc``/``XPpc`` make the cell's own PMOS bias line ``pc`` (0.05 sigma per finger) from
    the global ``nb`` line: a switching cell kicks its bias line through the drain-gate
    capacitance of its sources, and a shared line would shift every other cell's thresholds.
    """
    devices = device_set(sizing.unit_um)
    n, p, ns, ps = devices.unit_nfet, devices.unit_pfet, SWITCH_NFET, SWITCH_PFET
    line, inputs = sizing.cell_line_copies, sizing.cell_input_fingers
    reset_node = "x" if cell.s0 == 1 else "st"
    body = [
        n.line("Kpc", "kpc", "nb", "vss", "vss", line),
        n.line("Cpc", "pc", "ncas", "kpc", "vss", line),
        devices.cell_line_diode.line("Ppc", "pc", "pc", "vdd", "vdd", BIAS_LINE_FINGERS * line),
        n.line("T1", "c", "c", "a", "vss", inputs),
        n.line("M1", "a", "a", "vss", "vss", inputs),
        n.line("M2", "xm", "a", "vss", "vss", inputs),
        n.line("M2c", "x", "c", "xm", "vss", inputs),
        UnitDevice(PMOS, devices.threshold_finger_width(cell.beta2_fingers), devices.unit_um).line(
            "beta2", "x", "pc", "vdd", "vdd", cell.beta2_fingers),
        ps.line("clamp", "vss", "vss", "x", "vdd", 1),
        n.line("delta", "xd", "nc", "vss", "vss", cell.delta_fingers),
        ns.line("dsw", "x", "st", "xd", "vss", 1),
        ns.line("inv", "st", "x", "sn", "vss", 1),
        ns.line("sample_n", "sn", "en", "vss", "vss", 1),
        p.line("hold", "sp", "pc", "vdd", "vdd", HOLD_FINGERS),
        ps.line("sample_p", "st", "enb", "sp", "vdd", 1),
        p.line("alpha", "ha", "pc", "vdd", "vdd", cell.alpha_fingers),
        ns.line("asw", "ha", "st", "h", "vss", 1),
        ns.line("dump", "ha", "x", "vss", "vss", 1),
        ns.line("reset", reset_node, "rst", "vss", "vss", 1),
        TIE_DEVICE.line("tie", "x", "nc", "vss", "vss", 1),
    ]
    if sizing.state_keeper:
        body += [
            KEEPER_PFET.line("kinvp", "stb", "st", "vdd", "vdd"),
            KEEPER_NFET.line("kinvn", "stb", "st", "vss", "vss"),
            p.line("kstp", "kps", "pc", "vdd", "vdd", KEEPER_STARVING_FINGERS),
            KEEPER_PFET.line("kup", "ku", "stb", "kps", "vdd"),
            ps.line("kupsw", "st", "en", "ku", "vdd"),
            n.line("kstn", "kns", "nc", "vss", "vss", KEEPER_STARVING_FINGERS),
            KEEPER_NFET.line("kdn", "kd", "stb", "kns", "vss"),
            ns.line("kdnsw", "st", "enb", "kd", "vss"),
        ]
    return _subckt(cell_name(cell), CELL_PINS, body,
                   f"BMRU {cell.name}: beta1={cell.beta1_fingers} delta={cell.delta_fingers} "
                   f"alpha={cell.alpha_fingers} fingers of the cell step, s0={cell.s0}.")


# --------------------------------------------------------------------------------------
# residual skip


def residual_name(layer: int) -> str:
    return f"res{layer}"


def residual_pins(width: int) -> list[str]:
    return [f"yp{i}" for i in range(width)] + [f"up{i}" for i in range(width)] + [f"t{i}" for i in range(width)] + [
        "vdd", "vss"]


def residual_block(layer: int, width: int, devices: DeviceSet = DEVICES_1UM) -> str:
    """u_{l+1} = y_l + u_l: PMOS copies (4 fingers on the quarter-current p-lines) of both into t."""
    p = devices.unit_pfet
    body = []
    for i in range(width):
        body.append(p.line(f"R_y{i}", f"t{i}", f"yp{i}", "vdd", "vdd", REF_FINGERS))
        body.append(p.line(f"R_u{i}", f"t{i}", f"up{i}", "vdd", "vdd", REF_FINGERS))
    return _subckt(residual_name(layer), residual_pins(width), body,
                   f"Residual skip of layer {layer}: u{layer + 1} = y{layer} + u{layer} (currents add).")
