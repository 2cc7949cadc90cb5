"""Train the first-quadrant BMRU keyword spotter (PyTorch, CPU) and export it as ``bmru-fq/1``.

    python -m bmru.train --width 4 --out examples/kws_yes_d4.npz --test-out examples/kws_yes_test.npz

The network is CONTRACT.md's: ``u0 = ReLU(W_in ReLU(x) + b_in)``; L BMRU layers of N = D cells
(candidate ``c = ReLU(W_c u + b_c)``, set if ``c >= beta1 + delta``, reset if ``c < beta1``,
hold otherwise; ``u <- ReLU(W_o (alpha s) + b_o) + u``); readout ``z = ReLU(W_out u + b_out)``.

Training (defaults; every item is a command-line option)
    * Warm-up with logistic gates: for most of training, set/reset use sigmoid((c - beta)/T)
      with T annealed linearly from 0.3 to 0 (``--soft-temperature``, ``--soft-until``). Once
      T = 0 the forward pass is exact (Heaviside steps) and the backward pass uses the
      surrogate derivative ``1 / (1 + (pi x)^2)``. Validation always runs the exact circuit.
    * The state recursion ``s_t = a_t s_{t-1} + b_t`` is evaluated with a log-depth parallel
      (Hillis-Steele) scan over time.
    * The eps-annealed leaky variant ``s_t = hold s_{t-1} + (1 - hold)(set + eps s_{t-1})``
      (``--eps-hold``, ``--eps-decay``; ``--leak bounded`` leaks only in reset frames) is
      implemented but off by default: on the synthesised data it gave ~79 % test accuracy at
      D = 4 against ~88 % for the logistic warm-up.
    * Hardware constraints: alpha, beta1, delta are projected into [0.05, 3] units after every
      step, weights and biases into [-3, 3]; quantisation-aware training (straight-through
      estimator) snaps them to a grid (default 0.25 for weights and biases, 0.05 for
      alpha / beta1 / delta) from 30 % of the steps on (``--quant-start``). The exported model
      is the quantised one (the best validation checkpoint of that phase), and its accuracy is
      measured with the NumPy model :func:`bmru.model.run`.
    * AdamW (lr 5e-3, cosine decay, weight decay 1e-4), gradient clipping 1.0, cross-entropy
      at every frame with the utterance label on ``4 z`` (``--logit-scale``), a straight-through
      gradient for the readout ReLU (``--readout-st``: wide models otherwise die with both class
      currents at 0), a small L1 penalty on the weights (circuit power grows with the sum of
      |weight| times the input current).
    * One thread by default: the model is tiny, and a run is then bit-reproducible.

This module needs PyTorch (the ``.venv-train`` environment); the rest of ``bmru`` does not.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bmru import features as F
from bmru.grid import HARDWARE_GRID, GridError, HardwareGrid
from bmru.mismatch import MismatchStats, MismatchStatsError, load_stats, sample_log_gains, stats_from_dict
from bmru.weights import (DEFAULT_FRAME_PERIOD_S, DEFAULT_UNIT_CURRENT_A, Layer, Meta, Network, WeightsError,
                          load_weights, save_weights)

CLASS_NAMES = ("other", "yes")


class TrainError(ValueError):
    """A bad training argument or data set; the message names it."""


# --------------------------------------------------------------------------------------
# quantisation to the hardware grid (bmru.grid)


def _ste(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Forward ``target``, backward identity (straight-through estimator)."""
    return value + (target - value).detach()


def quantise_weight(value: torch.Tensor, grid: HardwareGrid) -> torch.Tensor:
    levels = round(grid.weight_max / grid.weight_step)
    k = torch.clamp(torch.round(value / grid.weight_step), -levels, levels)
    return k * grid.weight_step


def quantise_threshold(value: torch.Tensor, grid: HardwareGrid) -> torch.Tensor:
    low, high = round(grid.threshold_min / grid.threshold_step), round(grid.threshold_max / grid.threshold_step)
    k = torch.clamp(torch.round(value / grid.threshold_step), low, high)
    return k * grid.threshold_step


# --------------------------------------------------------------------------------------
# the network


class HeavisideSurrogate(torch.autograd.Function):
    """H(c - thr) = 1 if c >= thr else 0; backward d/dx = 1 / (1 + (pi x / width)^2) / width."""

    @staticmethod
    def forward(ctx, c, threshold, width):
        ctx.save_for_backward(c, threshold)
        ctx.width = width
        return (c >= threshold).to(c.dtype)

    @staticmethod
    def backward(ctx, grad):
        c, threshold = ctx.saved_tensors
        x = (c - threshold) / ctx.width
        local = grad / (1.0 + (math.pi * x) ** 2) / ctx.width
        grad_threshold = -local
        # threshold broadcasts over (batch, T): reduce to its shape
        while grad_threshold.dim() > threshold.dim():
            grad_threshold = grad_threshold.sum(0)
        return local, grad_threshold, None


def step(c: torch.Tensor, threshold: torch.Tensor, width: float = 1.0) -> torch.Tensor:
    return HeavisideSurrogate.apply(c, threshold, width)


def linear_scan(a: torch.Tensor, b: torch.Tensor, s0: torch.Tensor) -> torch.Tensor:
    """All s_t of s_t = a_t s_{t-1} + b_t over axis 1, in ceil(log2 T) steps (Hillis-Steele)."""
    frames = a.shape[1]
    shift = 1
    while shift < frames:
        b = torch.cat([b[:, :shift], a[:, shift:] * b[:, :-shift] + b[:, shift:]], dim=1)
        a = torch.cat([a[:, :shift], a[:, shift:] * a[:, :-shift]], dim=1)
        shift *= 2
    return b + a * s0


def linear_sequential(a: torch.Tensor, b: torch.Tensor, s0: torch.Tensor) -> torch.Tensor:
    """Reference loop for :func:`linear_scan` (tests)."""
    state = s0.expand(a.shape[0], a.shape[2])
    out = []
    for t in range(a.shape[1]):
        state = a[:, t] * state + b[:, t]
        out.append(state)
    return torch.stack(out, dim=1)


@dataclass
class Forward:
    logits: torch.Tensor  # (B, T, C)
    states: list  # per layer (B, T, N)
    candidates: list  # per layer (B, T, N)
    thresholds: list  # per layer (beta1, beta1 + delta), each (N,)
    # per layer: its input u (B, T, D) and the effective (W_c, b_c), for the relative margin
    inputs: list = field(default_factory=list)
    candidate_params: list = field(default_factory=list)

    def magnitude(self, index: int) -> torch.Tensor:
        """Layer ``index``'s sum of |currents| that make up each candidate (B, T, N)."""
        weight, bias = self.candidate_params[index]
        return self.inputs[index] @ weight.abs().T + bias.abs()


# initial values: gains of the normal weight initialisations, constant biases, uniform ranges
INIT = {"W_in_gain": 2.0, "b_in": 0.25, "W_c_gain": 1.5, "b_c": 0.5, "beta1": (0.5, 1.5), "delta": (0.3, 0.8),
        "alpha": 1.0, "W_o_gain": 1.0, "b_o": 0.0}


class BMRUNet(nn.Module):
    def __init__(self, n_in: int = 13, width: int = 4, layers: int = 2, classes: int = 2, seed: int = 0,
                 grid: HardwareGrid | None = None, init: dict | None = None):
        super().__init__()
        for name, value in (("n_in", n_in), ("width", width), ("layers", layers), ("classes", classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TrainError(f"{name}: expected a positive integer, got {value!r}")
        if classes < 2:
            raise TrainError(f"classes: expected at least 2, got {classes}")
        self.n_in, self.width, self.n_layers, self.classes = n_in, width, layers, classes
        self.grid = grid or HARDWARE_GRID
        gen = torch.Generator().manual_seed(int(seed))

        def normal(*shape, std):
            return nn.Parameter(torch.randn(*shape, generator=gen) * std)

        def uniform(*shape, low, high):
            return nn.Parameter(low + (high - low) * torch.rand(*shape, generator=gen))

        d = width
        i = dict(INIT, **(init or {}))
        self.W_in = normal(d, n_in, std=i["W_in_gain"] / math.sqrt(n_in))
        self.b_in = nn.Parameter(torch.full((d,), i["b_in"]))
        self.W_c = nn.ParameterList([normal(d, d, std=i["W_c_gain"] / math.sqrt(d)) for _ in range(layers)])
        self.b_c = nn.ParameterList([nn.Parameter(torch.full((d,), i["b_c"])) for _ in range(layers)])
        self.beta1 = nn.ParameterList([uniform(d, low=i["beta1"][0], high=i["beta1"][1]) for _ in range(layers)])
        self.delta = nn.ParameterList([uniform(d, low=i["delta"][0], high=i["delta"][1]) for _ in range(layers)])
        self.alpha = nn.ParameterList([nn.Parameter(torch.full((d,), i["alpha"])) for _ in range(layers)])
        self.W_o = nn.ParameterList([normal(d, d, std=i["W_o_gain"] / math.sqrt(d)) for _ in range(layers)])
        self.b_o = nn.ParameterList([nn.Parameter(torch.full((d,), i["b_o"])) for _ in range(layers)])
        self.W_out = normal(classes, d, std=1.0 / math.sqrt(d))
        self.b_out = nn.Parameter(torch.full((classes,), 0.5))
        self.register_buffer("s0", torch.zeros(layers, d))

    # parameter groups -------------------------------------------------------------
    def weight_params(self) -> list[nn.Parameter]:
        """Weights and biases: range [-weight_max, weight_max], grid weight_step."""
        return [self.W_in, self.b_in, *self.W_c, *self.b_c, *self.W_o, *self.b_o, self.W_out, self.b_out]

    def matrix_params(self) -> list[nn.Parameter]:
        return [self.W_in, *self.W_c, *self.W_o, self.W_out]

    def threshold_params(self) -> list[nn.Parameter]:
        return [*self.alpha, *self.beta1, *self.delta]

    @torch.no_grad()
    def project(self) -> None:
        """Clamp every parameter into its hardware range (called after each optimiser step)."""
        for p in self.weight_params():
            p.clamp_(-self.grid.weight_max, self.grid.weight_max)
        for p in self.threshold_params():
            p.clamp_(self.grid.threshold_min, self.grid.threshold_max)

    def effective(self, quantised: bool) -> dict[str, object]:
        """The parameter values the forward pass uses (clamped, and quantised with an STE if asked)."""
        g = self.grid

        def w(p):
            clamped = torch.clamp(p, -g.weight_max, g.weight_max)
            return _ste(p, quantise_weight(p, g)) if quantised else _ste(p, clamped)

        def t(p):
            clamped = torch.clamp(p, g.threshold_min, g.threshold_max)
            return _ste(p, quantise_threshold(p, g)) if quantised else _ste(p, clamped)

        return {
            "W_in": w(self.W_in), "b_in": w(self.b_in),
            "W_c": [w(p) for p in self.W_c], "b_c": [w(p) for p in self.b_c],
            "W_o": [w(p) for p in self.W_o], "b_o": [w(p) for p in self.b_o],
            "alpha": [t(p) for p in self.alpha], "beta1": [t(p) for p in self.beta1],
            "delta": [t(p) for p in self.delta],
            "W_out": w(self.W_out), "b_out": w(self.b_out),
        }

    def numpy_arrays(self, quantised: bool) -> dict[str, np.ndarray]:
        """The effective parameters under ``bmru-fq/1`` keys, detached (what a chip would realise)."""
        p = self.effective(quantised)
        out = {key: p[key].detach().double().numpy() for key in ("W_in", "b_in", "W_out", "b_out")}
        for key in ("W_c", "b_c", "W_o", "b_o", "alpha", "beta1", "delta"):
            for index, value in enumerate(p[key]):
                out[f"{key}{index}"] = value.detach().double().numpy()
        return out

    def forward(self, x: torch.Tensor, eps: float = 0.0, quantised: bool = False, surrogate_width: float = 1.0,
                leak: str = "paper", temperature: float = 0.0, readout_st: bool = False,
                gains: dict[str, torch.Tensor] | None = None) -> Forward:
        """``gains``: one chip's realised/nominal factors (``bmru.mismatch.sample_log_gains``,
        exponentiated) multiplying the effective parameters, or one chip per utterance (a leading
        batch axis, vectors as (batch, 1, n): :func:`chip_gains`); None is the nominal circuit."""
        p = self.effective(quantised)
        g = gains or {}

        def real(value, key):
            return value * g[key] if key in g else value

        relu = torch.relu
        # transpose(-1, -2), not .T: a matrix with a chip per utterance has a leading batch axis
        u = relu(relu(x) @ real(p["W_in"], "W_in").transpose(-1, -2) + real(p["b_in"], "b_in"))
        states, candidates, thresholds, inputs, candidate_params = [], [], [], [], []
        for index in range(self.n_layers):
            c = relu(u @ real(p["W_c"][index], f"W_c{index}").transpose(-1, -2)
                     + real(p["b_c"][index], f"b_c{index}"))
            inputs.append(u)
            candidate_params.append((p["W_c"][index], p["b_c"][index]))
            beta1, delta = p["beta1"][index], p["delta"][index]
            beta2 = real(beta1 + delta, f"beta2{index}")
            delta = real(delta, f"delta{index}")
            beta1 = beta2 - delta  # the circuit draws beta2 and delta; beta1 is what is left
            if temperature > 0.0:  # soft warm-up: logistic gates instead of steps (training only)
                set_ = torch.sigmoid((c - beta2) / temperature)
                on = torch.sigmoid((c - beta1) / temperature)
            else:
                set_ = step(c, beta2, surrogate_width)
                on = step(c, beta1, surrogate_width)
            hold = on - set_
            if eps == 0.0:
                a, b = hold, set_
            elif leak == "paper":  # s = hold s + (1 - hold)(set + eps s)
                a, b = hold + (1.0 - hold) * eps, (1.0 - hold) * set_
            else:  # "bounded": the leak only in the reset branch, s stays in [0, 1]
                a, b = hold + (1.0 - hold - set_) * eps, set_
            s = linear_scan(a, b, self.s0[index].to(x.dtype))
            alpha = real(p["alpha"][index], f"alpha{index}")
            y = relu((s * alpha) @ real(p["W_o"][index], f"W_o{index}").transpose(-1, -2)
                     + real(p["b_o"][index], f"b_o{index}"))
            u = real(y, f"g_y{index}") + real(u, f"g_u{index}")
            states.append(s)
            candidates.append(c)
            thresholds.append((beta1, beta2))
        pre = u @ real(p["W_out"], "W_out").transpose(-1, -2) + real(p["b_out"], "b_out")
        z = _ste(pre, relu(pre)) if readout_st else relu(pre)  # same forward; optional identity backward
        return Forward(z, states, candidates, thresholds, inputs, candidate_params)

    def margin_penalty(self, out: Forward, margin: float, relative: float = 0.0) -> torch.Tensor:
        """Mean over cells and frames of how far the candidate lies inside +-margin of the threshold
        that decides the next state: beta1 + delta while the cell is reset (will it set?), beta1
        while it is set (will it reset?). The circuit's thresholds sit a fraction of a finger off
        nominal and it switches slowly at small overdrive, so candidates that keep clear of the
        deciding threshold make the chip's states equal the model's. ``relative``: mismatch scales
        every current by a factor, so the margin also grows by this fraction of the deciding
        threshold plus the magnitudes of the currents summed into the candidate."""
        total = 0.0
        for index, (s, c, (beta1, beta2)) in enumerate(zip(out.states, out.candidates, out.thresholds)):
            start = self.s0[index].to(c.dtype).expand(c.shape[0], 1, c.shape[2])
            previous = torch.cat([start, s[:, :-1]], dim=1).detach()
            deciding = previous * beta1 + (1.0 - previous) * beta2
            distance = (c - deciding).abs()
            # the wanted margin is a target, not something to shrink: no gradient through it
            wanted = (margin + relative * (deciding + out.magnitude(index))).detach() if relative else margin
            # exact ties (c = b_c = threshold while a layer's inputs are silent) are left alone: the
            # circuit resolves them the model's way by design (its thresholds sit just below nominal)
            total = total + torch.where(distance == 0, 0.0, torch.relu(wanted - distance)).mean()
        return total / len(out.states)

    @torch.no_grad()
    def load_network(self, network: Network) -> None:
        """Start from an exported model (fine-tuning): every parameter and initial state takes
        ``network``'s value, whose shapes must match this model's."""
        pairs = [(self.W_in, network.W_in, "W_in"), (self.b_in, network.b_in, "b_in"),
                 (self.W_out, network.W_out, "W_out"), (self.b_out, network.b_out, "b_out")]
        if len(network.layers) != self.n_layers:
            raise TrainError(f"init weights: {len(network.layers)} layers, the model has {self.n_layers}")
        for index, layer in enumerate(network.layers):
            for key in ("W_c", "b_c", "beta1", "delta", "alpha", "W_o", "b_o"):
                pairs.append((getattr(self, key)[index], getattr(layer, key), f"{key}{index}"))
            pairs.append((self.s0[index], layer.s0, f"s0{index}"))
        for target, value, key in pairs:
            if tuple(target.shape) != tuple(np.shape(value)):
                raise TrainError(f"init weights: {key} has shape {tuple(np.shape(value))}, "
                                 f"the model needs {tuple(target.shape)}")
            target.copy_(torch.as_tensor(np.array(value), dtype=target.dtype))

    @torch.no_grad()
    def export(self, meta: dict | None = None, quantised: bool = True) -> Network:
        """The network as plain float64 NumPy arrays (quantised by default), validated."""
        model = copy.deepcopy(self).double()
        p = model.effective(quantised)

        def arr(t):
            return t.detach().cpu().numpy().astype(np.float64).copy()

        layers = tuple(Layer(arr(p["W_c"][i]), arr(p["b_c"][i]), arr(p["beta1"][i]), arr(p["delta"][i]),
                             arr(p["alpha"][i]), arr(model.s0[i]), arr(p["W_o"][i]), arr(p["b_o"][i]))
                       for i in range(self.n_layers))
        meta = dict(meta or {})
        unit = meta.pop("unit_current_A", DEFAULT_UNIT_CURRENT_A)
        period = meta.pop("frame_period_s", DEFAULT_FRAME_PERIOD_S)
        classes = tuple(meta.pop("classes", [f"class{i}" for i in range(self.classes)]))
        task = meta.pop("task", None)
        feats = meta.pop("features", None)
        network = Network(arr(p["W_in"]), arr(p["b_in"]), layers, arr(p["W_out"]), arr(p["b_out"]),
                          Meta(unit, period, classes, task, feats, meta))
        from bmru.weights import validate
        return validate(network.to_arrays())


def decisions(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(frame decisions (B, T), utterance majority vote (B,)), ties to the lowest index."""
    frame = torch.argmax(logits, dim=2)
    counts = torch.stack([(frame == k).sum(dim=1) for k in range(logits.shape[2])], dim=1)
    return frame, torch.argmax(counts, dim=1)


# --------------------------------------------------------------------------------------
# training


@dataclass
class TrainConfig:
    width: int = 4
    layers: int = 2
    steps: int = 30000
    batch: int = 64
    lr: float = 5e-3
    weight_decay: float = 1e-4
    clip: float = 1.0
    eps_hold: int = 0  # steps with eps = 1 (the leaky variant; measured no better here, so off by default)
    eps_decay: int = 0  # then linearly to 0 over this many steps
    quant_start: float = 0.3  # fraction of the steps after which training is quantisation-aware
    l1: float = 1e-5  # penalty on sum |W| of the weight matrices (circuit power)
    surrogate_width: float = 1.0
    leak: str = "paper"
    feature_noise: float = 0.0  # std of Gaussian noise added to the training features
    time_shift: int = 0  # random roll of the training features by up to this many frames
    eval_every: int = 250
    log_every: int = 100
    seed: int = 0
    threads: int = 1  # the model is tiny: one thread is as fast and keeps runs bit-reproducible
    grid: HardwareGrid = HARDWARE_GRID
    init: dict = field(default_factory=dict)  # overrides of INIT
    logit_scale: float = 4.0  # the loss is cross-entropy of logit_scale * z (decisions do not depend on it)
    soft_temperature: float = 0.3  # warm-up with logistic gates, temperature annealed linearly ...
    readout_st: bool = True  # straight-through gradient for the readout ReLU (revives dead class currents)
    soft_until: float = 1.0  # ... to 0 at this fraction of the steps; exact steps (surrogate gradient) afterwards
    margin: float = 0.05  # units: candidates should keep this far from the threshold deciding the next state
    margin_weight: float = 0.0  # weight of that penalty in the loss (0 = off)
    margin_relative: float = 0.0  # plus this fraction of the currents involved (mismatch is a factor)
    # mismatch-aware training: a bmru.mismatch statistics dict (sim.montecarlo --training-stats);
    # every batch from mismatch_start on runs on a freshly drawn chip, and checkpoints are chosen
    # by the mean validation accuracy over mismatch_val_chips fixed chips
    mismatch: dict | None = None
    mismatch_start: float = 0.0
    mismatch_val_chips: int = 16
    chips_per_batch: int = 1  # chips drawn per training batch (each for batch / chips utterances)
    # with mismatch: "mean" chooses the checkpoint by the chips' mean validation accuracy,
    # "floor" by min(nominal, chips' mean), so the nominal model cannot trade itself away
    mismatch_select: str = "mean"
    # validation chips drawn from these statistics instead (e.g. train at a what-if sizing, keep the
    # checkpoint that does best on the drawn design's chips); None: the training statistics
    mismatch_val: dict | None = None
    init_weights: str | None = None  # fine-tune: start from this bmru-fq/1 model instead of INIT

    def check(self) -> None:
        positive_ints = ("width", "layers", "steps", "batch", "eval_every", "log_every", "threads")
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TrainError(f"{name}: expected a positive integer, got {value!r}")
        for name in ("eps_hold", "eps_decay", "seed", "time_shift"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TrainError(f"{name}: expected a non-negative integer, got {value!r}")
        for name in ("lr", "clip", "surrogate_width", "logit_scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise TrainError(f"{name}: expected a positive number, got {value!r}")
        for name in ("weight_decay", "l1", "feature_noise", "soft_temperature", "margin", "margin_weight",
                     "margin_relative"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise TrainError(f"{name}: expected a non-negative number, got {value!r}")
        if not 0.0 <= self.quant_start <= 1.0:
            raise TrainError(f"quant_start: expected a fraction of the steps in [0, 1], got {self.quant_start!r}")
        if not 0.0 <= self.soft_until <= 1.0:
            raise TrainError(f"soft_until: expected a fraction of the steps in [0, 1], got {self.soft_until!r}")
        if not 0.0 <= self.mismatch_start <= 1.0:
            raise TrainError(f"mismatch_start: expected a fraction of the steps in [0, 1], got {self.mismatch_start!r}")
        if isinstance(self.mismatch_val_chips, bool) or not isinstance(self.mismatch_val_chips, int) \
                or self.mismatch_val_chips < 1:
            raise TrainError(f"mismatch_val_chips: expected a positive integer, got {self.mismatch_val_chips!r}")
        if isinstance(self.chips_per_batch, bool) or not isinstance(self.chips_per_batch, int) \
                or self.chips_per_batch < 1 or self.batch % self.chips_per_batch:
            raise TrainError(f"chips_per_batch: expected a positive divisor of batch ({self.batch}), "
                             f"got {self.chips_per_batch!r}")
        if self.mismatch is not None:
            try:
                stats_from_dict(self.mismatch, "mismatch")
            except MismatchStatsError as error:
                raise TrainError(str(error)) from None
        if self.mismatch_val is not None:
            if self.mismatch is None:
                raise TrainError("mismatch_val: validation statistics need mismatch-aware training (mismatch)")
            try:
                stats_from_dict(self.mismatch_val, "mismatch_val")
            except MismatchStatsError as error:
                raise TrainError(str(error)) from None
        if self.mismatch_select not in ("mean", "floor"):
            raise TrainError(f"mismatch_select: expected 'mean' or 'floor', got {self.mismatch_select!r}")
        if self.leak not in ("paper", "bounded"):
            raise TrainError(f"leak: expected 'paper' or 'bounded', got {self.leak!r}")

    def eps(self, step_index: int) -> float:
        if step_index < self.eps_hold:
            return 1.0
        if self.eps_decay == 0:
            return 0.0
        return max(0.0, 1.0 - (step_index - self.eps_hold) / self.eps_decay)

    def temperature(self, step_index: int) -> float:
        end = self.soft_until * self.steps
        if self.soft_temperature <= 0.0 or step_index >= end:
            return 0.0
        return self.soft_temperature * (1.0 - step_index / end)

    def quantised(self, step_index: int) -> bool:
        return step_index >= int(round(self.quant_start * self.steps)) and self.quant_start < 1.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["grid"] = self.grid.to_dict()
        return data


def chip_gains(model: BMRUNet, stats: MismatchStats, quantised: bool, rng: np.random.Generator,
               chips: int = 1, batch: int = 1) -> dict:
    """One chip drawn for the model's current parameters: realised/nominal factor tensors. With
    ``chips`` > 1, that many chips for a batch of ``batch`` utterances (consecutive groups of
    ``batch // chips`` share one): each factor gets a leading batch axis, and a vector's shape
    becomes (batch, 1, n) so that it broadcasts over the frames."""
    arrays = model.numpy_arrays(quantised)
    if chips == 1:
        logs = sample_log_gains(arrays, model.n_layers, stats, rng)
        return {key: torch.from_numpy(np.exp(value)).float() for key, value in logs.items()}
    drawn = [sample_log_gains(arrays, model.n_layers, stats, rng) for _ in range(chips)]
    gains = {}
    for key in drawn[0]:
        stacked = np.repeat(np.exp(np.stack([chip[key] for chip in drawn])), batch // chips, axis=0)
        gains[key] = torch.from_numpy(stacked if stacked.ndim == 3 else stacked[:, None, :]).float()
    return gains


def checkpoint_score(metrics: dict, select: str) -> float:
    """What a mismatch-aware run keeps the best checkpoint by: the chips' mean validation
    accuracy ("mean"), or the lower of it and the nominal model's ("floor")."""
    chips = metrics["chips"]["mean"]
    return min(chips, metrics["accuracy"]) if select == "floor" else chips


def validation_chips(model: BMRUNet, stats: MismatchStats, quantised: bool, chips: int, seed: int):
    """The ``chips`` fixed chips of ``seed`` that :func:`evaluate_chips` averages over, one gains
    dict at a time."""
    rng = np.random.default_rng([seed, 7])
    for _ in range(chips):
        yield chip_gains(model, stats, quantised, rng)


@torch.no_grad()
def evaluate_chips(model: BMRUNet, x: np.ndarray, y: np.ndarray, quantised: bool, stats: MismatchStats,
                   chips: int, seed: int) -> dict:
    """Mean and 5th percentile of the validation accuracy over ``chips`` chips drawn from ``seed``
    (the same chips at every evaluation, so that checkpoints compare like with like)."""
    accuracies = [evaluate(model, x, y, quantised, gains=gains)["accuracy"]
                  for gains in validation_chips(model, stats, quantised, chips, seed)]
    return {"mean": float(np.mean(accuracies)), "p5": float(np.percentile(accuracies, 5))}


@torch.no_grad()
def evaluate(model: BMRUNet, x: np.ndarray, y: np.ndarray, quantised: bool, batch: int = 1024,
             gains: dict | None = None) -> dict:
    """Exact forward (eps = 0): utterance accuracy (majority vote) and frame accuracy."""
    model.eval()
    correct = frames_correct = 0
    for start in range(0, len(x), batch):
        xb = torch.from_numpy(np.ascontiguousarray(x[start:start + batch], dtype=np.float32))
        yb = torch.from_numpy(y[start:start + batch].astype(np.int64))
        out = model(xb, eps=0.0, quantised=quantised, gains=gains)
        frame, utter = decisions(out.logits)
        correct += int((utter == yb).sum())
        frames_correct += int((frame == yb[:, None]).sum())
    model.train()
    n = max(1, len(x))
    return {"accuracy": correct / n, "frame_accuracy": frames_correct / (n * x.shape[1] if len(x) else 1)}


def _check_xy(name: str, x: np.ndarray, y: np.ndarray, n_in: int | None = None) -> None:
    if x.ndim != 3 or len(x) == 0:
        raise TrainError(f"{name}: x must be a non-empty (n, T, n_in) array, got shape {x.shape}")
    if n_in is not None and x.shape[2] != n_in:
        raise TrainError(f"{name}: x has {x.shape[2]} features per frame, expected {n_in}")
    if y.shape != (len(x),):
        raise TrainError(f"{name}: y must have shape ({len(x)},), got {y.shape}")
    if not np.all(np.isfinite(x)):
        raise TrainError(f"{name}: x contains NaN or inf")
    if y.min() < 0 or y.max() > 1:
        raise TrainError(f"{name}: y must hold class indices 0/1")


def train(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
          config: TrainConfig, log=print, checkpoint: str | os.PathLike | None = None) -> dict:
    """Train; returns a dict with the quantised model (best validation checkpoint of the
    quantisation-aware phase, or of the whole run when it never quantises), the best float model
    of the float phase, and the history."""
    config.check()
    _check_xy("train", x_train, y_train)
    _check_xy("val", x_val, y_val, x_train.shape[2])
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    model = BMRUNet(x_train.shape[2], config.width, config.layers, 2, seed=config.seed, grid=config.grid,
                    init=config.init)
    if config.init_weights is not None:
        try:
            model.load_network(load_weights(config.init_weights))
        except WeightsError as error:
            raise TrainError(f"init weights: {error}") from None
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda i: 0.5 * (1.0 + math.cos(math.pi * min(i, config.steps) / config.steps)))
    rng = np.random.default_rng([config.seed, 99])
    stats = None if config.mismatch is None else stats_from_dict(config.mismatch, "mismatch")
    val_stats = stats if config.mismatch_val is None else stats_from_dict(config.mismatch_val, "mismatch_val")
    chip_rng = np.random.default_rng([config.seed, 5])
    x_all = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    y_all = torch.from_numpy(y_train.astype(np.int64))
    n = len(x_all)
    order = rng.permutation(n)
    cursor = 0
    history = []
    best_float = {"accuracy": -1.0, "state": None, "step": None}
    best_quant = {"accuracy": -1.0, "state": None, "step": None}
    started = time.perf_counter()
    running = {"loss": 0.0, "acc": 0.0, "count": 0}
    for index in range(config.steps):
        if cursor + config.batch > n:
            order, cursor = rng.permutation(n), 0
        pick = torch.from_numpy(order[cursor:cursor + config.batch])
        cursor += config.batch
        xb, yb = x_all[pick], y_all[pick]
        if config.time_shift:
            shift = int(rng.integers(-config.time_shift, config.time_shift + 1))
            xb = torch.roll(xb, shifts=shift, dims=1)
        if config.feature_noise:
            xb = xb + config.feature_noise * torch.from_numpy(
                rng.standard_normal(xb.shape).astype(np.float32))
        eps = config.eps(index)
        quantised = config.quantised(index)
        temperature = config.temperature(index)
        gains = None
        if stats is not None and index >= int(round(config.mismatch_start * config.steps)):
            gains = chip_gains(model, stats, quantised, chip_rng, config.chips_per_batch, len(xb))
        out = model(xb, eps=eps, quantised=quantised, surrogate_width=config.surrogate_width, leak=config.leak,
                    temperature=temperature, readout_st=config.readout_st, gains=gains)
        logits = out.logits
        frames = logits.shape[1]
        loss = nn.functional.cross_entropy(config.logit_scale * logits.reshape(-1, logits.shape[2]),
                                           yb.repeat_interleave(frames))
        if config.margin_weight:
            loss = loss + config.margin_weight * model.margin_penalty(out, config.margin, config.margin_relative)
        if config.l1:
            loss = loss + config.l1 * sum(p.abs().sum() for p in model.matrix_params())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimiser.step()
        schedule.step()
        model.project()
        with torch.no_grad():
            _, utter = decisions(logits)
            running["loss"] += float(loss)
            running["acc"] += float((utter == yb).float().mean())
            running["count"] += 1
        last = index == config.steps - 1
        if (index + 1) % config.eval_every == 0 or last:
            # during the float phase, track the float model; in the quantised phase the quantised one
            phase_quant = config.quantised(index)
            metrics = evaluate(model, x_val, y_val, quantised=phase_quant)
            score = metrics["accuracy"]
            if stats is not None:  # choose what survives fabrication: the mean over fixed chips
                metrics["chips"] = evaluate_chips(model, x_val, y_val, phase_quant, val_stats, config.mismatch_val_chips,
                                                  config.seed)
                score = checkpoint_score(metrics, config.mismatch_select)
            record = {"step": index + 1, "eps": eps, "quantised": phase_quant, "val": metrics,
                      "seconds": time.perf_counter() - started}
            history.append(record)
            target = best_quant if phase_quant else best_float
            # the validation forward is always the exact circuit (eps = 0, Heaviside steps)
            if score > target["accuracy"]:
                target.update(accuracy=score, state=copy.deepcopy(model.state_dict()), step=index + 1)
            if checkpoint is not None:
                _save_checkpoint(checkpoint, model, optimiser, index + 1, config)
        if (index + 1) % config.log_every == 0 or last:
            count = max(1, running["count"])
            val = history[-1]["val"]["accuracy"] if history else float("nan")
            chips = history[-1]["val"].get("chips") if history else None
            chip_text = f"  chips {chips['mean']:.3f}/{chips['p5']:.3f}" if chips else ""
            log(f"[train] step {index + 1:6d}/{config.steps}  loss {running['loss'] / count:.4f}  "
                f"acc {running['acc'] / count:.3f}  val {val:.3f}{chip_text}  eps {eps:.3f}  "
                f"{'quant' if quantised else 'float'}  lr {schedule.get_last_lr()[0]:.2e}  "
                f"{time.perf_counter() - started:6.1f} s")
            running = {"loss": 0.0, "acc": 0.0, "count": 0}
    seconds = time.perf_counter() - started
    final_state = copy.deepcopy(model.state_dict())
    quant_model = copy.deepcopy(model)
    if config.quant_start < 1.0 and best_quant["state"] is not None:
        quant_model.load_state_dict(best_quant["state"])
    elif best_float["state"] is not None and config.quant_start >= 1.0:
        quant_model.load_state_dict(best_float["state"])
    float_model = copy.deepcopy(model)
    if best_float["state"] is not None:
        float_model.load_state_dict(best_float["state"])
    else:
        float_model.load_state_dict(final_state)
    return {"model": quant_model, "float_model": float_model, "history": history, "seconds": seconds,
            "best_quant_step": best_quant["step"], "best_float_step": best_float["step"]}


def _save_checkpoint(path, model: BMRUNet, optimiser, step_index: int, config: TrainConfig) -> None:
    from bmru.cli import atomic_write

    state = {"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step_index,
             "config": config.to_dict()}
    atomic_write(path, lambda tmp: torch.save(state, tmp))


# --------------------------------------------------------------------------------------
# numpy evaluation of an exported network


def numpy_accuracy(net: Network, x: np.ndarray, y: np.ndarray, batch: int = 512) -> dict:
    from bmru.model import run

    correct = frames = 0
    for start in range(0, len(x), batch):
        out = run(net, x[start:start + batch])
        correct += int((out.decision == y[start:start + batch]).sum())
        frames += int((out.frame_decisions == y[start:start + batch, None]).sum())
    return {"accuracy": correct / len(x), "frame_accuracy": frames / (len(x) * x.shape[1])}


# Settings that do not change the trained model stay out of its metadata, so the same recipe gives
# the same file whatever its progress lines (the shipped model was trained with --log-every 1000);
# the mismatch settings appear only when mismatch-aware training is on.
NOT_IN_META = ("grid", "log_every")


def model_meta(config: TrainConfig, extra: dict | None = None) -> dict:
    meta = {"unit_current_A": DEFAULT_UNIT_CURRENT_A, "frame_period_s": DEFAULT_FRAME_PERIOD_S,
            "classes": list(CLASS_NAMES), "task": "kws-yes", "features": F.FEATURES_ID,
            "features_params": F.FEATURES_PARAMS, "quantisation": config.grid.to_dict(),
            "training": {k: v for k, v in config.to_dict().items()
                         if k not in NOT_IN_META and not (k.startswith("mismatch") and config.mismatch is None)
                         # one chip per batch was the only recipe before the option: its models' meta stays
                         and not (k == "chips_per_batch" and (config.mismatch is None or v == 1))}}
    meta.update(extra or {})
    return meta


# --------------------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    g = HARDWARE_GRID
    parser = argparse.ArgumentParser(
        prog="python -m bmru.train",
        description="Train the first-quadrant BMRU 'yes' keyword spotter on the offline espeak-ng data set "
                    "(or on Google Speech Commands with --speech-commands) and export the quantised model "
                    "as a bmru-fq/1 weights file. Needs PyTorch (.venv-train).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, help="weights file to write (.npz, bmru-fq/1, quantised model)")
    parser.add_argument("--test-out", default=None, help="also write the held-out test features here "
                        "(.npz with x (n,101,13) float32, y (n,) int64, word (n,) str)")
    parser.add_argument("--report", default=None, help="JSON report (timings, accuracies); default: "
                        "benchmarks/train_<weights stem>.json")
    parser.add_argument("--width", type=int, default=d.width, help="model width D = cells per layer N")
    parser.add_argument("--layers", type=int, default=d.layers, help="BMRU layers L")
    parser.add_argument("--steps", type=int, default=d.steps, help="optimiser steps")
    parser.add_argument("--batch", type=int, default=d.batch, help="utterances per step")
    parser.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (cosine decay to 0)")
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay")
    parser.add_argument("--clip", type=float, default=d.clip, help="gradient-norm clip")
    parser.add_argument("--eps-hold", type=int, default=d.eps_hold, help="steps with leak eps = 1")
    parser.add_argument("--eps-decay", type=int, default=d.eps_decay, help="steps of the linear eps decay to 0")
    parser.add_argument("--leak", choices=("paper", "bounded"), default=d.leak,
                        help="leaky variant: 'paper' s=hold*s+(1-hold)*(set+eps*s); 'bounded' leaks only when reset")
    parser.add_argument("--quant-start", type=float, default=d.quant_start,
                        help="fraction of the steps after which training is quantisation-aware (1 = never)")
    parser.add_argument("--soft-temperature", type=float, default=d.soft_temperature,
                        help="initial temperature of the logistic-gate warm-up (0 = exact steps from the start)")
    parser.add_argument("--soft-until", type=float, default=d.soft_until,
                        help="fraction of the steps at which the warm-up temperature reaches 0")
    parser.add_argument("--logit-scale", type=float, default=d.logit_scale,
                        help="scale of the class currents inside the cross-entropy")
    parser.add_argument("--readout-st", action=argparse.BooleanOptionalAction, default=d.readout_st,
                        help="straight-through (identity) gradient for the readout ReLU; the forward pass is unchanged")
    parser.add_argument("--l1", type=float, default=d.l1, help="penalty on sum |W| (circuit power)")
    parser.add_argument("--margin", type=float, default=d.margin,
                        help="units: distance the candidates should keep from the threshold deciding the next state")
    parser.add_argument("--margin-weight", type=float, default=d.margin_weight,
                        help="weight of the margin penalty in the loss (0 = off)")
    parser.add_argument("--margin-relative", type=float, default=d.margin_relative,
                        help="the margin grows by this fraction of the deciding threshold plus the summed "
                             "|currents| of the candidate (mismatch scales currents, not units)")
    parser.add_argument("--surrogate-width", type=float, default=d.surrogate_width,
                        help="x scale of the surrogate derivative 1/(1+(pi x/w)^2)/w, in units")
    parser.add_argument("--feature-noise", type=float, default=d.feature_noise, help="training feature noise std")
    parser.add_argument("--time-shift", type=int, default=d.time_shift, help="random roll of training frames (max)")
    parser.add_argument("--weight-step", type=float, default=g.weight_step, help="grid of weights and biases")
    parser.add_argument("--weight-max", type=float, default=g.weight_max, help="|weight|, |bias| limit")
    parser.add_argument("--threshold-step", type=float, default=g.threshold_step, help="grid of alpha, beta1, delta")
    parser.add_argument("--threshold-min", type=float, default=g.threshold_min, help="lower limit of alpha, beta1, delta")
    parser.add_argument("--threshold-max", type=float, default=g.threshold_max, help="upper limit of alpha, beta1, delta")
    parser.add_argument("--mismatch", default=None, metavar="STATS",
                        help="mismatch-aware training: every batch runs on a freshly drawn chip, with the per-role "
                             "sigmas of this file (python -m sim.montecarlo --training-stats STATS), and the "
                             "checkpoint is chosen by the mean validation accuracy over fixed chips")
    parser.add_argument("--mismatch-start", type=float, default=d.mismatch_start,
                        help="fraction of the steps after which batches run on drawn chips")
    parser.add_argument("--mismatch-val", default=None, metavar="STATS",
                        help="with --mismatch, draw the validation chips from these statistics instead (e.g. "
                             "train at a what-if sizing and keep what does best on the drawn design's chips)")
    parser.add_argument("--mismatch-val-chips", type=int, default=d.mismatch_val_chips,
                        help="chips the validation accuracy is averaged over (with --mismatch)")
    parser.add_argument("--chips-per-batch", type=int, default=d.chips_per_batch,
                        help="with --mismatch, chips drawn for each batch, each for batch / K utterances "
                             "(1: the whole batch on one chip)")
    parser.add_argument("--mismatch-select", choices=("mean", "floor"), default=d.mismatch_select,
                        help="with --mismatch, the checkpoint criterion: the chips' mean validation accuracy, or "
                             "the lower of it and the nominal model's")
    parser.add_argument("--init-weights", default=None, metavar="WEIGHTS",
                        help="fine-tune: start from this bmru-fq/1 model (same width and layers) instead of a "
                             "random initialisation")
    parser.add_argument("--eval-every", type=int, default=d.eval_every, help="validation period (steps)")
    parser.add_argument("--log-every", type=int, default=d.log_every, help="progress line period (steps)")
    parser.add_argument("--seed", type=int, default=d.seed, help="training seed (initialisation, batches)")
    parser.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    parser.add_argument("--checkpoint", default=None, help="checkpoint file (default build/train/<stem>.pt)")
    data = parser.add_argument_group("data")
    data.add_argument("--data-seed", type=int, default=0, help="seed of the synthesised data set")
    data.add_argument("--train-clips", type=int, default=None, help="synthesised training clips (default: bmru.data's)")
    data.add_argument("--val-clips", type=int, default=None, help="synthesised validation clips")
    data.add_argument("--test-clips", type=int, default=None, help="synthesised test clips")
    data.add_argument("--processes", type=int, default=2, help="processes for data synthesis")
    data.add_argument("--cache-dir", default=None, help="data cache folder (default .cache/kws)")
    data.add_argument("--speech-commands", default=None, metavar="DIR",
                      help="train on a Google Speech Commands tree instead of the synthesised data")
    return parser


def _load_data(args) -> tuple[dict, dict]:
    if args.speech_commands:
        from bmru import speech_commands as sc
        started = time.perf_counter()
        try:
            arrays = sc.load(args.speech_commands, seed=args.data_seed)
        except sc.SpeechCommandsError as error:
            raise TrainError(f"--speech-commands: {error}") from None
        words = sorted({str(w) for split in ("train", "val", "test") for w in arrays[f"word_{split}"]})
        for split in ("train", "val", "test"):
            arrays[f"word_{split}"] = np.array([words.index(str(w)) for w in arrays[f"word_{split}"]], dtype=np.int64)
        arrays["words"] = np.array(words)
        return arrays, {"source": "speech-commands", "path": str(args.speech_commands),
                        "seconds": time.perf_counter() - started, "cached": False}
    from bmru import data as D
    overrides = {k: v for k, v in (("train_clips", args.train_clips), ("val_clips", args.val_clips),
                                   ("test_clips", args.test_clips)) if v is not None}
    try:
        config = D.DataConfig(seed=args.data_seed, **overrides)
        arrays, info = D.load_dataset(config, args.cache_dir, processes=args.processes,
                                      progress=D._progress_printer())
    except D.DataError as error:
        raise TrainError(f"data: {error}") from None
    info = dict(info, source="espeak-ng", config=config.to_dict(), composition=D.describe(arrays),
                generation_seconds=float(arrays.get("generation_seconds", np.nan)))
    return arrays, info


def _stats_option(path: str | None, option: str) -> dict | None:
    """A statistics file named on the command line, as a dict (None when not given)."""
    if path is None:
        return None
    try:
        return load_stats(path).to_dict()
    except MismatchStatsError as error:
        raise TrainError(f"{option}: {error}") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def fail(message: str) -> int:
        print(f"python -m bmru.train: error: {message}", file=sys.stderr)
        return 2

    out = Path(args.out)
    if out.suffix != ".npz":
        return fail(f"--out: expected a .npz file name, got {args.out!r}")
    if args.test_out is not None and Path(args.test_out).suffix != ".npz":
        return fail(f"--test-out: expected a .npz file name, got {args.test_out!r}")
    if args.processes < 1:
        return fail(f"--processes: expected a positive integer, got {args.processes}")
    try:
        try:
            grid = HardwareGrid(args.weight_step, args.weight_max, args.threshold_step, args.threshold_min,
                                args.threshold_max)
        except GridError as error:
            raise TrainError(str(error)) from None
        mismatch = _stats_option(args.mismatch, "--mismatch")
        mismatch_val = _stats_option(args.mismatch_val, "--mismatch-val")
        config = TrainConfig(width=args.width, layers=args.layers, steps=args.steps, batch=args.batch, lr=args.lr,
                             weight_decay=args.weight_decay, clip=args.clip, eps_hold=args.eps_hold,
                             eps_decay=args.eps_decay, quant_start=args.quant_start, l1=args.l1,
                             surrogate_width=args.surrogate_width, leak=args.leak,
                             feature_noise=args.feature_noise, time_shift=args.time_shift,
                             soft_temperature=args.soft_temperature, soft_until=args.soft_until,
                             logit_scale=args.logit_scale, readout_st=args.readout_st,
                             margin=args.margin, margin_weight=args.margin_weight,
                             margin_relative=args.margin_relative,
                             eval_every=args.eval_every, log_every=args.log_every, seed=args.seed,
                             threads=args.threads, grid=grid, mismatch=mismatch,
                             mismatch_start=args.mismatch_start, mismatch_val_chips=args.mismatch_val_chips,
                             chips_per_batch=args.chips_per_batch,
                             mismatch_select=args.mismatch_select, mismatch_val=mismatch_val,
                             init_weights=args.init_weights)
        config.check()
        if args.init_weights is not None:  # refuse a bad model before the data are built
            try:
                BMRUNet(F.FEATURES_PARAMS["n_mfcc"], config.width, config.layers, 2, grid=config.grid).load_network(
                    load_weights(args.init_weights))
            except WeightsError as error:
                raise TrainError(f"--init-weights: {error}") from None
    except TrainError as error:
        return fail(str(error))
    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    try:
        arrays, data_info = _load_data(args)
    except TrainError as error:
        return fail(str(error))
    print(f"[train] data ready ({'cache' if data_info.get('cached') else 'generated'}, "
          f"{data_info['seconds']:.1f} s): train {len(arrays['y_train'])}, val {len(arrays['y_val'])}, "
          f"test {len(arrays['y_test'])} utterances", file=sys.stderr, flush=True)
    checkpoint = args.checkpoint or str(Path("build") / "train" / f"{out.stem}.pt")
    try:
        result = train(arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"], config,
                       log=lambda line: print(line, file=sys.stderr, flush=True), checkpoint=checkpoint)
    except TrainError as error:
        return fail(str(error))
    x_test, y_test = arrays["x_test"], arrays["y_test"]
    meta = model_meta(config, {"data": {k: data_info[k] for k in ("source",) if k in data_info}})
    net = result["model"].export(meta, quantised=config.quant_start < 1.0)
    float_net = result["float_model"].export(meta, quantised=False)
    quant_test = numpy_accuracy(net, x_test, y_test)
    float_test = numpy_accuracy(float_net, x_test, y_test)
    quant_val = numpy_accuracy(net, arrays["x_val"], arrays["y_val"])
    float_val = numpy_accuracy(float_net, arrays["x_val"], arrays["y_val"])
    torch_test = evaluate(result["model"], x_test, y_test, quantised=config.quant_start < 1.0)
    save_weights(out, net)
    if args.test_out:
        from bmru.data import interleave_classes
        from bmru.weights import write_npz
        order = interleave_classes(y_test)  # any prefix covers every class
        test_arrays = {"x": np.ascontiguousarray(x_test[order], dtype=np.float32),
                       "y": y_test[order].astype(np.int64)}
        if "word_test" in arrays and "words" in arrays:
            test_arrays["word"] = np.array([str(arrays["words"][i]) for i in arrays["word_test"][order]])
        write_npz(args.test_out, test_arrays, compressed=True)
    total = time.perf_counter() - started
    abs_sum = float(sum(np.abs(a).sum() for a in [net.W_in, net.W_out] + [l.W_c for l in net.layers]
                        + [l.W_o for l in net.layers]))
    report = {
        "command": "python -m bmru.train " + " ".join(argv if argv is not None else sys.argv[1:]),
        "weights": str(out), "test_out": args.test_out, "config": config.to_dict(),
        "data": {k: v for k, v in data_info.items()},
        "seconds": {"data": round(data_info["seconds"], 2), "training": round(result["seconds"], 2),
                    "total": round(total, 2),
                    "data_generation": round(data_info.get("generation_seconds", float("nan")), 2)},
        "accuracy": {"test_quantised": quant_test["accuracy"], "test_float": float_test["accuracy"],
                     "val_quantised": quant_val["accuracy"], "val_float": float_val["accuracy"],
                     "test_quantised_frame": quant_test["frame_accuracy"],
                     "test_float_frame": float_test["frame_accuracy"],
                     "test_quantised_torch": torch_test["accuracy"]},
        "test_utterances": int(len(y_test)), "best_quant_step": result["best_quant_step"],
        "best_float_step": result["best_float_step"], "sum_abs_weights": abs_sum,
        "history": result["history"],
    }
    report_path = args.report or str(Path("benchmarks") / f"train_{out.stem}.json")
    from bmru.cli import atomic_write
    text = json.dumps(report, indent=2, sort_keys=True, default=float) + "\n"
    atomic_write(report_path, lambda tmp: Path(tmp).write_text(text))
    print(f"[train] test accuracy: quantised {quant_test['accuracy']:.4f} (numpy model), float "
          f"{float_test['accuracy']:.4f}; training {result['seconds']:.0f} s; wrote {out}"
          + (f", {args.test_out}" if args.test_out else "") + f", {report_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
