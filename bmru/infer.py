"""``python -m bmru.infer WEIGHTS INPUTS`` — run the software model, print decisions and accuracy."""

from __future__ import annotations

import time

import numpy as np

from bmru.cli import CommandParser, fail, write_json
from bmru.inputs import InputsError, load_inputs
from bmru.model import METHODS, run
from bmru.weights import WeightsError, load_weights


def main(argv: list[str] | None = None) -> None:
    parser = CommandParser(
        prog="python -m bmru.infer",
        description="Run the first-quadrant BMRU software model on an inputs file "
                    "(npz with x (n, T, n_in) and optional labels y) and print the utterance decisions.")
    parser.add_argument("weights", help="bmru-fq/1 weights file (.npz)")
    parser.add_argument("inputs", help="inputs file (.npz with x and optionally y)")
    parser.add_argument("-n", "--limit", type=int, default=None, help="use only the first N utterances")
    parser.add_argument("--method", choices=METHODS, default="scan", help="state evaluation (default: scan)")
    parser.add_argument("--json", dest="json_path", default=None, help="also write the results to this JSON file")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary line")
    args = parser.parse_args(argv)

    try:
        net = load_weights(args.weights)
        inputs = load_inputs(args.inputs, n_in=net.n_in, limit=args.limit, classes=net.classes)
    except (WeightsError, InputsError) as error:
        fail(str(error))

    start = time.perf_counter()
    out = run(net, inputs.x, method=args.method)
    seconds = time.perf_counter() - start
    names = net.meta.classes
    if not args.quiet:
        for index, decision in enumerate(out.decision):
            label = "" if inputs.y is None else f"  label {names[inputs.y[index]]}"
            print(f"{index:5d}  {names[decision]}{label}")
    result = {
        "utterances": int(len(out.decision)),
        "decisions": [int(d) for d in out.decision],
        "classes": list(names),
        "seconds": seconds,
    }
    summary = f"{result['utterances']} utterances in {seconds * 1e3:.1f} ms"
    if inputs.y is not None:
        accuracy = float(np.mean(out.decision == inputs.y))
        result["accuracy"] = accuracy
        summary += f", accuracy {accuracy:.4f}"
    print(summary)
    if args.json_path:
        result.update(software_power(net, inputs.x))
        write_json(args.json_path, result)


def software_power(net, x: np.ndarray) -> dict:
    """The power model's ``power_nW`` block for these utterances (same keys as presim.json), or
    the reason it has none (a network the hardware cannot realise has no circuit to model)."""
    from bmru.power import power, summary  # noqa: PLC0415 - needs the hardware mapping
    from generators.circuit.mapping import MappingError, map_network  # noqa: PLC0415

    try:
        spec = map_network(net)
    except MappingError as error:
        return {"power_nW": None, "power_model": f"not realisable: {error}"}
    return {"power_nW": summary(power(spec, x))["power_nW"], "power_model": "bmru.power, tt 27 °C 1.8 V"}


if __name__ == "__main__":
    main()
