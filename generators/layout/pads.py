"""What both routers share: the least-area choice among trial placements, and the pad columns
beside a drawn cell: the one check both routers need when they bring a cell's
side ports out to columns of via pads (the array's wrapper in :mod:`generators.layout.floorplan`,
one column per pin; the compact cell's blocks in :mod:`generators.layout.cells.macro`, one
column per net), and the metal of a port.

A port is extended straight out of its side to its column, where a via1 pad sits and a met2
stub rises. So a met2 extension may pass a nearer column only below that column's lowest pad
(the stub rises from there), and a met1 extension must clear every nearer met1 pad.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pdk_sky130_180 import layers as L
from pdk_sky130_180 import rules as R
from pdk_sky130_180.wires import VIA1_PAD, dbu

SPACE = {"met1": dbu(R.M1_SPACE), "met2": dbu(R.M2_SPACE)}
METAL_OF_GDS = {layer.gds: name for name, layer in L.ROUTING.items()}


def metal_of(port) -> str:
    """The routing-layer name ("met1", "met2", ...) of a gdsfactory port."""
    return METAL_OF_GDS[(port.layer_info.layer, port.layer_info.datatype)]


@dataclass(frozen=True)
class Jog:
    """A port's extension to its column: where it runs (y, dbu), how wide, on which metal."""

    name: str  # the port, for the message
    y: int
    width: int
    metal: str  # "met1" or "met2"


def check_jogs(what: str, columns: Sequence[tuple[str, Sequence[Jog]]]) -> None:
    """``columns``: (net, its jogs) per column, nearest the cell first. Raises a ValueError naming
    ``what``, the port and the column it would run into."""
    for index, (_, jogs) in enumerate(columns):
        for jog in jogs:
            for near_net, near_jogs in columns[:index]:
                lowest = min(j.y for j in near_jogs)
                if jog.metal == "met2" and jog.y + jog.width // 2 + SPACE["met2"] > lowest - VIA1_PAD // 2:
                    raise ValueError(f"{what}: port {jog.name} would cross the stub of {near_net}")
                for pad in near_jogs:
                    if jog.metal == "met1" and pad.metal == "met1" and \
                            abs(jog.y - pad.y) < jog.width // 2 + VIA1_PAD // 2 + SPACE["met1"]:
                        raise ValueError(f"{what}: port {jog.name} would touch the pad of {near_net}")


Plan = TypeVar("Plan")


def least_area(plans: Sequence[Plan], size: Callable[[Plan], tuple[int, int]], max_aspect: float) -> Plan:
    """The plan of least width x height among those within ``max_aspect`` (all of them if none
    is), ties to the first. Folding, packing and channel loads make area a step function of the
    row length, so both routers measure trial placements instead of guessing one."""
    def aspect(plan: Plan) -> float:
        width, height = size(plan)
        return max(width / height, height / width)

    fitting = [plan for plan in plans if aspect(plan) <= max_aspect] or list(plans)
    return min(fitting, key=lambda plan: size(plan)[0] * size(plan)[1])
