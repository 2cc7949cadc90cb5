"""Benchmark: network accuracy against injected analog noise, FQ-BMRU against a float GRU.

    .venv-train/bin/python benchmarks/noise_network.py [WEIGHTS] [--steps 4000] [--seeds 3]
                                                       [-o benchmarks/results/noise_network.json]

The study's robustness figure. Both networks classify the shipped held-out test set (600
utterances, both classes); Gaussian noise, fresh every frame, is added to each network's analog
signals between its nonlinearities, scaled to each signal's own rms over the test set, so that
the x axis (noise rms / signal rms) means the same for both:

- FQ-BMRU (the shipped quantised model, ``bmru.model.run``): every cell's candidate current
  (before the thresholds) and every post-projection current;
- GRU: a float ``torch.nn.GRU`` of the same width and depth (2 layers of 4 units) with a linear
  readout, trained here on the same synthesised data with per-frame cross-entropy; noise on each
  layer's hidden state after every update, which is the state that recurs.

For scale: the device noise ngspice's ``.noise`` gives for a mirror at 1 nA over 1-100 Hz
(``characterisation/noise.json``, ~1.1 pA, i.e. ~1e-3 of a 1 nA signal), and the per-finger
mismatch of a 1x1 µm device (~0.23 in ln I), which is fixed per chip rather than fresh every frame.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bmru import data as D  # noqa: E402
from bmru.cli import write_json  # noqa: E402
from bmru.inputs import load_inputs  # noqa: E402
from bmru.model import majority, run  # noqa: E402
from bmru.weights import load_weights  # noqa: E402

LEVELS = np.logspace(-3, 0, 13)


class GRUNet(nn.Module):
    def __init__(self, n_in: int, width: int, layers: int, classes: int = 2):
        super().__init__()
        self.cells = nn.ModuleList([nn.GRUCell(n_in if i == 0 else width, width) for i in range(layers)])
        self.readout = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor, noise: float = 0.0, scales=None, generator=None) -> torch.Tensor:
        batch, frames, _ = x.shape
        hidden = [x.new_zeros(batch, cell.hidden_size) for cell in self.cells]
        outputs = []
        for t in range(frames):
            signal = x[:, t]
            for i, cell in enumerate(self.cells):
                h = cell(signal, hidden[i])
                if noise:
                    h = h + noise * scales[i] * torch.randn(h.shape, generator=generator)
                hidden[i] = h
                signal = h
            outputs.append(self.readout(signal))
        return torch.stack(outputs, dim=1)


def vote(logits: np.ndarray) -> np.ndarray:
    """Utterance decisions as the chip takes them: majority of the per-frame argmax."""
    return majority(np.argmax(logits, axis=2), logits.shape[2])


def train_gru(arrays: dict, width: int, layers: int, steps: int, seed: int, log) -> GRUNet:
    torch.manual_seed(seed)
    model = GRUNet(arrays["x_train"].shape[2], width, layers)
    optimiser = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda i: 0.5 * (1 + np.cos(np.pi * min(i, steps) / steps)))
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(arrays["x_train"].astype(np.float32))
    y = torch.from_numpy(arrays["y_train"].astype(np.int64))
    xv, yv = arrays["x_val"].astype(np.float32), arrays["y_val"]
    best, best_state = -1.0, None
    for step in range(steps):
        pick = torch.from_numpy(rng.integers(0, len(x), 64))
        logits = model(x[pick])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 2), y[pick].repeat_interleave(logits.shape[1]))
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        if (step + 1) % 250 == 0:
            with torch.no_grad():
                accuracy = float(np.mean(vote(model(torch.from_numpy(xv)).numpy()) == yv))
            if accuracy > best:
                best, best_state = accuracy, {k: v.clone() for k, v in model.state_dict().items()}
            log(f"[gru] step {step + 1}/{steps} loss {float(loss.detach()):.3f} val {accuracy:.3f}")
    model.load_state_dict(best_state)
    return model


def gru_curve(model: GRUNet, x: np.ndarray, y: np.ndarray, seeds: int) -> tuple[float, list]:
    xt = torch.from_numpy(x.astype(np.float32))
    with torch.no_grad():
        clean = float(np.mean(vote(model(xt).numpy()) == y))
        # rms of each layer's hidden state over the test set, from a clean run
        hidden = [xt.new_zeros(len(x), c.hidden_size) for c in model.cells]
        squares = [0.0] * len(model.cells)
        for t in range(x.shape[1]):
            signal = xt[:, t]
            for i, cell in enumerate(model.cells):
                hidden[i] = cell(signal, hidden[i])
                squares[i] += float((hidden[i] ** 2).mean())
                signal = hidden[i]
        scales = [np.sqrt(s / x.shape[1]) for s in squares]
        curve = []
        for level in LEVELS:
            accs = [float(np.mean(vote(model(xt, level, scales, torch.Generator().manual_seed(k)).numpy()) == y))
                    for k in range(seeds)]
            curve.append(float(np.mean(accs)))
    return clean, curve


def bmru_curve(net, x: np.ndarray, y: np.ndarray, seeds: int) -> tuple[float, list]:
    clean = run(net, x)
    scales = {("candidate", i): float(np.sqrt(np.mean(c ** 2))) for i, c in enumerate(clean.candidates)}
    post = []

    def record(kind, layer, value):
        if kind == "post":
            post.append(float(np.sqrt(np.mean(value ** 2))))
        return value

    run(net, x, perturb=record)
    scales.update({("post", i): v for i, v in enumerate(post)})
    curve = []
    for level in LEVELS:
        accs = []
        for k in range(seeds):
            rng = np.random.default_rng([k, 11])

            def noisy(kind, layer, value, rng=rng, level=level):
                return value + level * scales[(kind, layer)] * rng.standard_normal(value.shape)

            accs.append(float(np.mean(run(net, x, perturb=noisy).decision == y)))
        curve.append(float(np.mean(accs)))
    return float(np.mean(clean.decision == y)), curve


def plot(path: Path, result: dict) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.semilogx(LEVELS, 100 * np.array(result["bmru"]["accuracy"]), "o-", label="FQ-BMRU (shipped, quantised)")
    ax.semilogx(LEVELS, 100 * np.array(result["gru"]["accuracy"]), "s-", label="float GRU, same width")
    for x, label in ((result["scale"]["device_noise_relative"], "device noise (1 nA mirror, 1-100 Hz)"),
                     (result["scale"]["mismatch_sigma_finger"], "mismatch sigma of one finger (fixed per chip)")):
        ax.axvline(x, color="grey", ls=":")
        ax.text(x, 52, label, rotation=90, fontsize=7, color="grey", va="bottom")
    ax.set_xlabel("injected noise rms / signal rms (fresh every frame)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(45, 100)
    ax.set_title("Accuracy against analog noise, 600 held-out utterances (both classes)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", nargs="?", default="examples/kws_yes_d4.npz")
    p.add_argument("--inputs", default="examples/kws_yes_test.npz")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("-o", "--out", default="benchmarks/results/noise_network.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    net = load_weights(args.weights)
    test = load_inputs(args.inputs, n_in=net.n_in)
    arrays, _ = D.load_dataset(D.DataConfig(), None, processes=1, progress=None)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    gru = train_gru(arrays, net.width, len(net.layers), args.steps, 0, log)
    gru_clean, gru_acc = gru_curve(gru, test.x, test.y, args.seeds)
    bmru_clean, bmru_acc = bmru_curve(net, test.x, test.y, args.seeds)
    device = json.loads(Path("characterisation/noise.json").read_text())["device_noise_1_100Hz"]
    result = {
        "what": "test accuracy against Gaussian noise added every frame to each network's analog signals, scaled "
                "to each signal's rms; software models, 600 held-out utterances (300 per class)",
        "levels": LEVELS.tolist(), "seeds": args.seeds,
        "bmru": {"weights": args.weights, "clean": bmru_clean, "accuracy": bmru_acc,
                 "noise_on": "cell candidates and post-projections"},
        "gru": {"width": net.width, "layers": len(net.layers), "steps": args.steps, "clean": gru_clean,
                "accuracy": gru_acc, "noise_on": "each layer's hidden state after every update"},
        "scale": {"device_noise_relative": device["mirror_1000pA_rms_A"] / 1e-9, "mismatch_sigma_finger": 0.23},
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_json(args.out, result)
    plot(Path(args.out).with_suffix(".png"), result)
    print(json.dumps({k: result[k] for k in ("bmru", "gru")}, indent=1))


if __name__ == "__main__":
    main()
