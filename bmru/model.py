"""The first-quadrant BMRU network in NumPy, exactly as CONTRACT.md section 1 defines it.

Per layer the candidate currents depend only on the layer's input, never on its own state,
so all T candidates are computed at once; the state recursion
``s_t = hold_t * s_{t-1} + set_t`` is then either looped over (``sequential``) or evaluated
as a log-depth parallel prefix scan (``scan``). The state is boolean, so both are exact and
give identical results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmru.weights import Network

METHODS = ("scan", "sequential")


@dataclass(frozen=True, eq=False)
class RunOutput:
    states: list[np.ndarray]  # per layer (batch, T, N), uint8 0/1
    candidates: list[np.ndarray]  # per layer (batch, T, N), candidate currents c_t
    layer_inputs: list[np.ndarray]  # per layer (batch, T, D), the input u the layer sees
    logits: np.ndarray  # (batch, T, C) class currents z
    frame_decisions: np.ndarray  # (batch, T) argmax z per frame, ties to the lowest index
    decision: np.ndarray  # (batch,) majority vote of the frame decisions, ties to the lowest index


def relu(value: np.ndarray) -> np.ndarray:
    return np.maximum(value, 0.0)


def set_hold(candidates: np.ndarray, beta1: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (set, hold) per frame: set if c >= beta1 + delta, reset if c < beta1, else hold."""
    set_ = candidates >= beta1 + delta
    hold = ~set_ & (candidates >= beta1)
    return set_, hold


def states_sequential(set_: np.ndarray, hold: np.ndarray, s0: np.ndarray) -> np.ndarray:
    """Loop over time: s_t = set_t or (hold_t and s_{t-1}). Arrays are (batch, T, N)."""
    batch, frames, cells = set_.shape
    states = np.empty((batch, frames, cells), dtype=bool)
    state = np.broadcast_to(s0.astype(bool), (batch, cells))
    for t in range(frames):
        state = set_[:, t] | (hold[:, t] & state)
        states[:, t] = state
    return states


def states_scan(set_: np.ndarray, hold: np.ndarray, s0: np.ndarray) -> np.ndarray:
    """Hillis-Steele inclusive scan over time of the affine maps s -> hold*s + set.

    Composing (a1, b1) then (a2, b2) gives (a1 a2, a2 b1 + b2); on booleans that is
    (a1 & a2, (a2 & b1) | b2). After ceil(log2 T) doubling steps, entry t holds the
    composition of frames 0..t, applied to s0.
    """
    a = hold.copy()
    b = set_.copy()
    frames = a.shape[1]
    shift = 1
    while shift < frames:
        a_prev, b_prev = a[:, :-shift], b[:, :-shift]
        a_cur, b_cur = a[:, shift:], b[:, shift:]
        new_b = (a_cur & b_prev) | b_cur
        new_a = a_cur & a_prev
        b[:, shift:] = new_b
        a[:, shift:] = new_a
        shift *= 2
    return b | (a & s0.astype(bool))


def majority(frame_decisions: np.ndarray, classes: int) -> np.ndarray:
    """Per-utterance majority vote; ties go to the lowest class index."""
    counts = np.stack([(frame_decisions == k).sum(axis=1) for k in range(classes)], axis=1)
    return np.argmax(counts, axis=1)


def run(net: Network, x: np.ndarray, method: str = "scan", perturb=None) -> RunOutput:
    """Run the network on ``x`` of shape (batch, T, n_in) (a single (T, n_in) is promoted).

    ``perturb(kind, layer, value) -> value``, if given, replaces each layer's analog signals
    before they are used: ``"candidate"`` (the cells' input c, before the thresholds) and
    ``"post"`` (the post-projection y); e.g. additive noise for robustness studies."""
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != net.n_in:
        raise ValueError(f"x: expected shape (batch, T, {net.n_in}), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x: contains NaN or inf")
    evolve = states_scan if method == "scan" else states_sequential

    u = relu(relu(x) @ net.W_in.T + net.b_in)
    states, candidates, layer_inputs = [], [], []
    for index, layer in enumerate(net.layers):
        layer_inputs.append(u)
        c = relu(u @ layer.W_c.T + layer.b_c)
        if perturb is not None:
            c = relu(perturb("candidate", index, c))  # a current stays non-negative
        set_, hold = set_hold(c, layer.beta1, layer.delta)
        s = evolve(set_, hold, layer.s0)
        y = relu((s * layer.alpha) @ layer.W_o.T + layer.b_o)
        if perturb is not None:
            y = relu(perturb("post", index, y))
        u = y + u
        states.append(s.astype(np.uint8))
        candidates.append(c)
    logits = relu(u @ net.W_out.T + net.b_out)
    frame_decisions = np.argmax(logits, axis=2)
    return RunOutput(states, candidates, layer_inputs, logits, frame_decisions,
                     majority(frame_decisions, net.classes))
