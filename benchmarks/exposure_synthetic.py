"""The exposure correction on the self-selection world with a known truth (recagent.data.self_selection).

Prints, per selection strength, the true like share of the random exposures and the bias / mf
models' mean P(like) for them: chosen answer, shown answer (defaults), shown + cross-fitted calibration.
Usage: python benchmarks/exposure_synthetic.py [--models bias,mf] [--selection 0.5,1,2]
"""

from __future__ import annotations

import argparse

from recagent.data.self_selection import make_self_selection_world
from recagent.eval.exposure import evaluate_model, make_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="bias,mf")
    parser.add_argument("--selection", default="0.5,1,2")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| model | selection | true share | chosen answer | shown answer | shown + calibration |")
    print("|---|---|---|---|---|---|")
    for selection in (float(s) for s in args.selection.split(",")):
        world = make_self_selection_world(selection=selection, seed=args.seed)
        for name in args.models.split(","):
            modes = evaluate_model(make_model(name, world.data, args.seed, None), world.data, None, 2, args.seed)["modes"]
            print(f"| {name} | {selection:g} | {world.true_share:.3f} | " + " | ".join(
                f"{modes[m]['mean_p_like']:.3f}" for m in ("chosen", "shown", "shown+calibration")) + " |", flush=True)


if __name__ == "__main__":
    main()
