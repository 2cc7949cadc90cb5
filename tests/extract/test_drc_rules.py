"""Must-fail suite for the DRC deck: every rule the deck claims has a tiny fixture that
violates exactly that rule (and is flagged under its name and nothing else); rules with a
value also have the same fixture at exactly the limit, which must be clean.

Each fixture is a function of ``e`` (µm): ``e = -0.005`` is one grid step past the limit,
``e = 0`` is at the limit. Adding a rule to the deck without a fixture here fails
``test_every_rule_has_a_fixture``.
"""

from __future__ import annotations

import pytest

from extract.drc import RULE_NAMES, check_layout
from pdk_sky130_180 import layers as L
from pdk_sky130_180 import rules as R
from tests.layout_helpers import make_layout, ring

STEP = -0.005

# --- building blocks (µm) -----------------------------------------------------------------


def ptap_block(x=0.0, y=0.0, w=0.41, h=0.41, enc=0.125, lic=(0.12, 0.12), li=True):
    lx, ly = x + lic[0], y + lic[1]
    s = [(L.TAP, x, y, x + w, y + h), (L.LICON1, lx, ly, lx + 0.17, ly + 0.17),
         (L.PSDM, x - enc, y - enc, x + w + enc, y + h + enc)]
    if li:
        s.append((L.LI1, lx - 0.08, ly, lx + 0.25, ly + 0.17))
    return s


def ntap_block(x=0.0, y=0.0, nw=0.215, nw_right=None, nw_left=None, enc=0.125, w=0.41, h=0.41):
    s = [(L.TAP, x, y, x + w, y + h), (L.LICON1, x + 0.12, y + 0.12, x + 0.29, y + 0.29),
         (L.LI1, x + 0.04, y + 0.12, x + 0.37, y + 0.29), (L.NSDM, x - enc, y - enc, x + w + enc, y + h + enc)]
    r = nw if nw_right is None else nw_right
    left = nw if nw_left is None else nw_left
    s.append((L.NWELL, x - left, y - nw, x + w + r, y + h + nw))
    return s


def mos(p=False, w=0.42, sd=0.285, lic_l=(0.06, None), lic_r=True, endcap=0.13, impl=0.125,
        tap_impl=0.125, tap_gap=0.59, tap_w=0.41, sd_implant=True, both_implants=False, nwell_enc=0.18,
        extra=()):
    """A 1-finger transistor (L = 0.15) with S/D contacts and a contacted body tap below."""
    g0, g1 = sd, sd + 0.15
    x1 = g1 + 0.285
    ly = round((w - 0.17) / 2 / 0.005) * 0.005 if lic_l[1] is None else lic_l[1]
    ry = round((w - 0.17) / 2 / 0.005) * 0.005
    s = [(L.DIFF, 0, 0, x1, w), (L.POLY, g0, -0.13, g1, w + endcap)]
    lx = lic_l[0]
    s += [(L.LICON1, lx, ly, lx + 0.17, ly + 0.17), (L.LI1, lx, ly - 0.08, lx + 0.17, ly + 0.25)]
    if lic_r:
        rx = g1 + 0.055
        s += [(L.LICON1, rx, ry, rx + 0.17, ry + 0.17), (L.LI1, rx, ry - 0.08, rx + 0.17, ry + 0.25)]
    sd_impl, tap_impl_l = (L.PSDM, L.NSDM) if p else (L.NSDM, L.PSDM)
    if sd_implant:
        s.append((sd_impl, -impl, -impl, x1 + impl, w + impl))
    if both_implants:
        s.append((L.PSDM if not p else L.NSDM, -impl, -impl, x1 + impl, w + impl))
    ty1 = -tap_gap
    ty0 = ty1 - 0.41
    s += [(L.TAP, 0, ty0, tap_w, ty1), (L.LICON1, 0.12, ty0 + 0.12, 0.29, ty0 + 0.29),
          (L.LI1, 0.04, ty0 + 0.12, 0.37, ty0 + 0.29),
          (tap_impl_l, -tap_impl, ty0 - tap_impl, tap_w + tap_impl, ty1 + tap_impl)]
    if p:
        s.append((L.NWELL, -0.18, ty0 - 0.18, max(x1, tap_w) + nwell_enc, w + 0.18))
    return s + list(extra)


def poly_pad(x=0.0, y=0.0, ex=0.08, ey=0.08, ex_left=None, npc=0.1, li_vertical=False):
    """A contacted poly pad: licon at (x, y), poly, npc and li1 around it."""
    exl = ex if ex_left is None else ex_left
    s = [(L.LICON1, x, y, x + 0.17, y + 0.17), (L.POLY, x - exl, y - ey, x + 0.17 + ex, y + 0.17 + ey),
         (L.NPC, x - npc, y - npc, x + 0.17 + npc, y + 0.17 + npc)]
    if li_vertical:
        s.append((L.LI1, x, y - 0.08, x + 0.17, y + 0.25))
    else:
        s.append((L.LI1, x - 0.08, y, x + 0.25, y + 0.17))
    return s


def mcon_stack(m1x=0.03, m1_bottom=0.0, m1_top=0.57, li=(0.0, 0.0, 0.57, 0.57), size=(0.17, 0.17)):
    return [(L.LI1, *li), (L.MCON, 0.2, 0.2, 0.2 + size[0], 0.2 + size[1]),
            (L.MET1, 0.2 - m1x, m1_bottom, 0.2 + size[0] + m1x, m1_top)]


def via_stack(m1x=0.055, m2x=0.055, m1_bottom=0.0, m2_bottom=0.0, size=(0.15, 0.15)):
    v = [(L.VIA, 0.2, 0.2, 0.2 + size[0], 0.2 + size[1])]
    return v + [(L.MET1, 0.2 - m1x, m1_bottom, 0.2 + size[0] + m1x, 0.55),
                (L.MET2, 0.2 - m2x, m2_bottom, 0.2 + size[0] + m2x, 0.55)]


def via2_stack(m2x=0.04, m3x=0.065, m2_bottom=0.0, size=(0.2, 0.2)):
    return [(L.VIA2, 0.2, 0.2, 0.2 + size[0], 0.2 + size[1]),
            (L.MET2, 0.2 - m2x, m2_bottom, 0.2 + size[0] + m2x, 0.6),
            (L.MET3, 0.2 - m3x, 0.0, 0.2 + size[0] + m3x, 0.8)]


def metal_pair(layer, w, gap, length=1.0):
    return [(layer, 0, 0, w, length), (layer, w + gap, 0, 2 * w + gap, length)]


# --- one fixture per rule: f(e) violates the rule for e = STEP, is at the limit for e = 0 ----
FIXTURES = {
    "x.1b": lambda e: [(L.MET1, 0, 0, 1.0 + (0.002 if e else 0), 1.0)],
    "x.2": lambda e: [(L.MET1, [(0, 0), (1, 0), (1, 0.5), (0.5, 1), (0, 1)])],
    "nwell.1": lambda e: ntap_block(nw=0.18, nw_right=0.25 + e, h=0.48),
    "nwell.2a": lambda e: ntap_block(0, 0) + ntap_block(0.41 + 0.43 + 1.27 + e, 0),
    "nwell.4": lambda e: [(L.NWELL, 0, 0, 1.0, 1.0)],
    "difftap.1": lambda e: ptap_block(enc=0.125) + [(L.TAP, 0.41, 0.1, 0.8, 0.25 + e),
                                                     (L.PSDM, 0.3, -0.125, 0.925, 0.535)],
    "difftap.2": lambda e: mos(w=0.42 + e, lic_l=(0.06, 0.12)),
    "difftap.3": lambda e: ptap_block(0, 0) + ptap_block(0.41 + 0.27 + e, 0) + [
        (L.PSDM, 0, -0.125, 0.82, 0.535)],
    "difftap.8": lambda e: mos(p=True, nwell_enc=0.18 + e),
    "difftap.9": lambda e: mos() + ntap_block(1.36 + e, 0.0, nw_left=0.30),
    "difftap.10": lambda e: ntap_block(nw=0.215, nw_right=0.18 + e, w=0.5),
    "difftap.11": lambda e: mos() + ntap_block(0.0, -1.0 - 0.13 - e - 0.215 - 0.41 + 0.0 * e),
    "poly.1a": lambda e: [(L.POLY, 0, 0, 0.15 + e, 1.0)],
    "poly.2": lambda e: metal_pair(L.POLY, 0.15, 0.21 + e),
    "poly.4": lambda e: mos(extra=[(L.POLY, 0.72 + 0.075 + e, 0, 0.72 + 0.075 + e + 0.15, 0.42)]),
    "poly.5": lambda e: mos(extra=[(L.POLY, 0.41 + 0.055 + e, -1.0, 0.41 + 0.055 + e + 0.15, -0.59)]),
    "poly.7": lambda e: poly7_fixture(e),
    "poly.8": lambda e: mos(endcap=0.13 + e),
    "licon.1": lambda e: ptap_block(h=0.42) + [(L.LICON1, 0.12, 0.12, 0.29, 0.30 - 0.01 * (e == 0)),
                                              (L.LI1, 0.04, 0.12, 0.37, 0.30)],
    "licon.2": lambda e: ptap_block(w=0.75 + e) + [(L.LICON1, 0.12 + 0.34 + e, 0.12, 0.29 + 0.34 + e, 0.29),
                                                   (L.LI1, 0.04, 0.12, 0.71 + e, 0.29)],
    "licon.4": lambda e: ptap_block(li=False),
    "licon.5a": lambda e: mos(lic_l=(0.04 + e, None)),
    "licon.5c": lambda e: mos(lic_l=(0.05, 0.06 + e)),
    "licon.7": lambda e: ptap_block(w=0.41 + e, h=0.41 + e),
    "licon.8": lambda e: poly_pad(ex_left=0.05 + e, npc=0.13),
    "licon.8a": lambda e: poly_pad(ex=0.08 + e, ey=0.07 + (0.01 if e == 0 else 0), npc=0.13),
    "licon.9": lambda e: poly_pad() + [(L.PSDM, 0.17 + 0.11 + e, -0.2, 0.17 + 0.11 + e + 0.4, 0.5)],
    "licon.11": lambda e: mos(lic_l=(0.285 - 0.055 - 0.17 - e, None)),
    "licon.13": lambda e: mos(extra=[(L.NPC, 0.66 + 0.09 + e, 0.075, 0.66 + 0.09 + e + 0.27, 0.345)]),
    "licon.14": lambda e: ntap_block() + poly_pad(0.41 + 0.19 + e, 0.08, li_vertical=True),
    "licon.15": lambda e: poly_pad(npc=0.1 + e, ex=0.12, ey=0.12),
    "licon.16": lambda e: mos(lic_r=False),
    "licon.17": lambda e: ptap_block(w=0.41, li=False, lic=(0.33, 0.12)) + [
        (L.POLY, 0.41, 0.0, 0.8, 0.41), (L.LI1, 0.25, 0.12, 0.58, 0.29)],
    "npc.1": lambda e: [(L.NPC, 0, 0, 0.27 + e, 1.0)],
    "npc.2": lambda e: metal_pair(L.NPC, 0.27, 0.27 + e),
    "npc.4": lambda e: mos(extra=[(L.NPC, 0.2, 0.42 + 0.09 + e, 0.52, 0.42 + 0.09 + e + 0.3)]),
    "nsd.1": lambda e: [(L.NSDM, 0, 0, 0.38 + e, 1.0)],
    "nsd.2": lambda e: metal_pair(L.NSDM, 0.38, 0.38 + e),
    "nsd.5a": lambda e: mos(impl=0.125 + e),
    "nsd.5b": lambda e: ntap_block(enc=0.125 + e),
    "nsd.7": lambda e: mos(extra=[(L.NSDM, -0.125, -0.59 + 0.13 + e, 0.845, 0.0)]),
    "nsd.8": lambda e: mos(both_implants=True, tap_gap=0.7),
    "nsd.9": lambda e: mos(sd_implant=False),
    "nsd.10a": lambda e: [(L.NSDM, 0, 0, 0.5, 0.53 + 2 * e)],
    "psd.1": lambda e: [(L.PSDM, 0, 0, 0.38 + e, 1.0)],
    "psd.2": lambda e: metal_pair(L.PSDM, 0.38, 0.38 + e),
    "psd.5a": lambda e: mos(p=True, impl=0.125 + e),
    "psd.5b": lambda e: mos(tap_impl=0.125 + e),
    "psd.7": lambda e: mos(extra=[(L.PSDM, -0.125, -0.59, 0.845, -0.13 - e)]),
    "psd.10b": lambda e: [(L.PSDM, 0, 0, 0.5, 0.51 + 2 * e)],
    "li.1": lambda e: [(L.LI1, 0, 0, 0.17 + e, 1.0)],
    "li.3": lambda e: metal_pair(L.LI1, 0.17, 0.17 + e),
    "li.5": lambda e: ptap_block(li=False) + [(L.LI1, 0.12 - 0.08 - e, 0.12 + 0.0, 0.29 + 0.08 + e, 0.29)]
    if e == 0 else ptap_block(li=False) + [(L.LI1, 0.05, 0.12, 0.36, 0.31)],
    "li.6": lambda e: [(L.LI1, 0, 0, 0.17, 0.33 + e)],
    "ct.1": lambda e: mcon_stack(size=(0.17, 0.17 + (0.01 if e else 0))),
    "ct.2": lambda e: [(L.LI1, 0, 0, 1.0, 0.57), (L.MCON, 0.2, 0.2, 0.37, 0.37),
                       (L.MCON, 0.37 + 0.19 + e, 0.2, 0.54 + 0.19 + e, 0.37), (L.MET1, 0.17, 0.0, 0.79, 0.57)],
    "ct.4": lambda e: mcon_stack(li=(0.0, 0.0, 0.37 + e, 0.57)),
    "m1.1": lambda e: [(L.MET1, 0, 0, 0.14 + e, 1.0)],
    "m1.2": lambda e: metal_pair(L.MET1, 0.14, 0.14 + e),
    "m1.4": lambda e: mcon_stack(m1x=0.03 + e),
    "m1.5": lambda e: mcon_stack(m1x=0.06 + e, m1_bottom=0.2 - 0.06 - e),
    "m1.6": lambda e: [(L.MET1, 0, 0, 0.2, 0.415 + e)],
    "m1.7": lambda e: ring(L.MET1, 0, 0, 1.2, 1.2, 0.4, 0.4, 0.75 + 2 * e, 0.8),
    "via.1a": lambda e: via_stack(size=(0.15, 0.15 + (0.01 if e else 0))),
    "via.2": lambda e: [(L.VIA, 0.2, 0.2, 0.35, 0.35), (L.VIA, 0.52 + e, 0.2, 0.67 + e, 0.35),
                        (L.MET1, 0.145, 0.0, 0.725, 0.55), (L.MET2, 0.145, 0.0, 0.725, 0.55)],
    "via.4a": lambda e: via_stack(m1x=0.055 + e),
    "via.5a": lambda e: via_stack(m1x=0.085 + e, m1_bottom=0.2 - 0.085 - e),
    "m2.1": lambda e: [(L.MET2, 0, 0, 0.14 + e, 1.0)],
    "m2.2": lambda e: metal_pair(L.MET2, 0.14, 0.14 + e),
    "m2.4": lambda e: via_stack(m2x=0.055 + e),
    "m2.5": lambda e: via_stack(m2x=0.085 + e, m2_bottom=0.2 - 0.085 - e),
    "m2.6": lambda e: [(L.MET2, 0, 0, 0.26, 0.26 + e)],
    "m2.7": lambda e: ring(L.MET2, 0, 0, 1.2, 1.2, 0.4, 0.4, 0.75 + 2 * e, 0.8),
    "via2.1a": lambda e: via2_stack(size=(0.2, 0.2 + (0.01 if e else 0))),
    "via2.2": lambda e: [(L.VIA2, 0.2, 0.2, 0.4, 0.4), (L.VIA2, 0.6 + e, 0.2, 0.8 + e, 0.4),
                         (L.MET2, 0.16, 0.0, 0.84, 0.6), (L.MET3, 0.135, 0.0, 0.865, 0.8)],
    "via2.4": lambda e: via2_stack(m2x=0.04 + e),
    "via2.5": lambda e: via2_stack(m2x=0.085 + e, m2_bottom=0.2 - 0.085 - e),
    "m3.1": lambda e: [(L.MET3, 0, 0, 0.3 + e, 1.0)],
    "m3.2": lambda e: metal_pair(L.MET3, 0.3, 0.3 + e),
    "m3.4": lambda e: via2_stack(m3x=0.065 + e),
    "m3.6": lambda e: [(L.MET3, 0, 0, 0.4, 0.6 + e)],
    "lu.2": lambda e: mos(tap_gap=15.0 - 0.42 - e, tap_w=0.72),
    "lu.3": lambda e: mos(p=True, tap_gap=15.0 - 0.42 - e, tap_w=0.72),
}

#: rules without a value or without a meaningful "at the limit" layout
NO_LIMIT = {"x.2", "nwell.4", "licon.4", "licon.16", "licon.17", "nsd.8", "nsd.9", "li.5"}


def poly7_fixture(e):
    """Left source 0.25+e long: its contact sits in a diff flag above the gate's reach."""
    sd = 0.25 + e
    g0, g1 = sd, sd + 0.15
    x1 = g1 + 0.285
    s = [(L.DIFF, [(0, 0), (x1, 0), (x1, 0.42), (g0 - 0.075, 0.42), (g0 - 0.075, 1.1), (-0.3, 1.1),
                   (-0.3, 0.6), (0, 0.6)]),
         (L.POLY, g0, -0.13, g1, 0.55),
         (L.LICON1, -0.24, 0.75, -0.07, 0.92), (L.LI1, -0.24, 0.67, -0.07, 1.0),
         (L.LICON1, g1 + 0.055, 0.125, g1 + 0.225, 0.295), (L.LI1, g1 + 0.055, 0.045, g1 + 0.225, 0.375),
         (L.NSDM, -0.425, -0.125, x1 + 0.125, 1.225)]
    s += ptap_block(0.0, -1.0)
    return s


def flagged(shapes):
    result = check_layout(make_layout(shapes), deep=False)
    return result.failing()


def test_every_rule_has_a_fixture():
    missing = [r for r in RULE_NAMES if r not in FIXTURES]
    extra = [r for r in FIXTURES if r not in RULE_NAMES]
    assert not missing, f"rules without a must-fail fixture: {missing}"
    assert not extra, f"fixtures for rules the deck does not check: {extra}"


def test_rule_names_are_official_and_described():
    for name in RULE_NAMES:
        rule = R.rule(name)
        assert rule.description
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_rule_violation_is_flagged_alone(rule):
    got = flagged(FIXTURES[rule](STEP))
    assert got and set(got) == {rule}, f"{rule}: deck flagged {got}"


@pytest.mark.parametrize("rule", [r for r in RULE_NAMES if r not in NO_LIMIT])
def test_rule_at_limit_is_clean(rule):
    got = flagged(FIXTURES[rule](0.0))
    assert not got, f"{rule} fixture at the limit: deck flagged {got}"


def test_deep_and_flat_agree():
    shapes = FIXTURES["m1.2"](STEP) + FIXTURES["licon.11"](STEP)
    layout = make_layout(shapes)
    assert check_layout(layout, deep=True).failing() == check_layout(layout, deep=False).failing()
