"""The grouping pass: which flat MOSFETs the layout draws together as one matched row.

MOSFETs with the same model, finger width, gate length, gate net, source net and body net are
copies of one current (a mirror's reference and its outputs, a bias line's current sources):
their ratios are the weights, so they should see the same process gradients. Each such set
with distinct drain nets becomes a :class:`DeviceGroup`, drawn as one interdigitated row
(:func:`generators.layout.cells.group.matched_row`). A device whose drain is its gate (the mirror's
diode) joins as the group's reference. Devices that share no such set (cascodes, whose sources
are their own nets; a diode whose width differs from its outputs) keep their own cells.

A set whose row would be longer than :data:`MAX_ROW_UM` is cut, in order, into groups of whole
devices that fit (the diode stays in the first): a longer row would set the width of the whole
array, and the area that costs is in the routing channels of every row (the reference's
bias line of the cell thresholds, 223 fingers of L = 1 µm, would be ~300 µm long against rows
of ~250 µm; a random D = 16 network's 32 keeper devices of L = 20 µm, ~720 µm).

Nothing here changes the circuit: every device keeps its W, L, finger count and nets.
"""

from __future__ import annotations

from dataclasses import dataclass

from generators.layout.cells.group import drain_port
from generators.layout.cells.row import MID_SD
from generators.circuit.netlist import Device


@dataclass(frozen=True)
class DeviceGroup:
    """MOSFETs sharing model, W, L, gate, source and body, each with its own drain net.

    ``devices`` puts the diode (drain = gate), if there is one, first, then the others in
    netlist order. ``nets`` maps each pin of the group's cell to its net.
    """

    devices: tuple[Device, ...]

    @property
    def first(self) -> Device:
        return self.devices[0]

    @property
    def name(self) -> str:
        """Named after the member that comes first by name, where the group is placed."""
        return "group:" + min(d.name for d in self.devices)

    @property
    def model(self) -> str:
        return self.first.model

    @property
    def w_um(self) -> float:
        return self.first.w_um

    @property
    def l_um(self) -> float:
        return self.first.l_um

    @property
    def fingers(self) -> tuple[int, ...]:
        return tuple(d.multiplier for d in self.devices)

    @property
    def diode(self) -> int | None:
        return 0 if self.first.nets["d"] == self.first.nets["g"] else None

    @property
    def nets(self) -> dict[str, str]:
        first = self.first.nets
        pins = {"gate": first["g"], "source": first["s"], "body": first["b"]}
        for index, device in enumerate(self.devices):
            if index != self.diode:
                pins[drain_port(index)] = device.nets["d"]
        return pins

    def key(self) -> tuple:
        """Groups with equal keys draw the same cell."""
        return ("group", self.model, self.w_um, self.l_um, self.fingers, self.diode)


MAX_ROW_UM = 160.0  # longest group row, dummies included
DUMMY_GATES = 3  # one at each end of a row, and one facing a lone odd finger


def fingers_per_row(l_um: float, max_row_um: float = MAX_ROW_UM) -> int:
    """How many fingers of gate length ``l_um`` fit in a row ``max_row_um`` long with its
    dummies (at least 2)."""
    pitch_um = l_um + MID_SD / 1000  # one gate and the S/D region after it
    return max(2, int(max_row_um // pitch_um) - DUMMY_GATES)


def _shared_key(device: Device) -> tuple:
    return (device.model, device.w_um, device.l_um, device.nets["g"], device.nets["s"], device.nets["b"])


def _rows_of(members: list[Device], max_fingers: int) -> list[list[Device]]:
    """Consecutive runs of whole devices of at most ``max_fingers`` fingers (a longer device
    gets a run of its own)."""
    runs: list[list[Device]] = [[]]
    for device in members:
        if runs[-1] and sum(d.multiplier for d in runs[-1]) + device.multiplier > max_fingers:
            runs.append([])
        runs[-1].append(device)
    return runs


def matched_groups(devices: list[Device], max_row_um: float = MAX_ROW_UM) -> list[DeviceGroup]:
    """Every set of two or more devices that can share a matched row, in netlist order of
    their first member, cut into rows of at most ``max_row_um`` µm. A device whose
    drain is its source or body (no current to match), or repeats a drain already in its
    set, stays on its own; so does a device a cut leaves alone."""
    sets: dict[tuple, list[Device]] = {}
    for device in devices:
        if device.nets["d"] in (device.nets["s"], device.nets["b"]):
            continue
        members = sets.setdefault(_shared_key(device), [])
        if all(m.nets["d"] != device.nets["d"] for m in members):
            members.append(device)
    groups = []
    for members in sets.values():
        # the diode (at most one: drains are distinct) first; sorted() keeps the rest in order
        ordered = sorted(members, key=lambda m: m.nets["d"] != m.nets["g"])
        runs = _rows_of(ordered, fingers_per_row(ordered[0].l_um, max_row_um))
        groups += [DeviceGroup(tuple(run)) for run in runs if len(run) > 1]
    return groups
