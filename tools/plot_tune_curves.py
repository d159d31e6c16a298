#!/usr/bin/python3
"""Draws the measurement-efficiency curves of a `perfgraph tune --replay ... --out REPORT.json` report.

Usage: /usr/bin/python3 tools/plot_tune_curves.py REPORT.json OUT.png [--max-measurements N]

One line per strategy: mean over kernels and seeds of optimum / best config found so far (1 = the
kernel's best measured config has been found), against the number of measurements. Needs Debian's
python3-matplotlib (scripts/setup.sh installs it).
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report")
    parser.add_argument("out")
    parser.add_argument("--max-measurements", type=int, default=0,
                        help="cut the x axis here (0 = the whole curve)")
    args = parser.parse_args()
    with open(args.report) as f:
        report = json.load(f)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = {}
    for variant in report["variants"]:
        curve = variant["curve"]
        if args.max_measurements > 0:
            curve = curve[: args.max_measurements]
        # A strategy and its "+ validity" variant share a colour; the variant is dashed.
        base = variant["name"].split(" + ")[0]
        color = colors.setdefault(base, "C%d" % len(colors))
        style = "--" if " + validity" in variant["name"] else "-"
        ax.plot(range(1, len(curve) + 1), curve, style, color=color, label=variant["name"],
                linewidth=1.5)
    for level in (0.95, 0.99):
        ax.axhline(level, color="grey", linewidth=0.6, linestyle=":")
    ax.set_xscale("log")
    ax.set_xlabel("measurements per kernel")
    ax.set_ylabel("optimum / best found (mean over kernels and seeds)")
    ax.set_ylim(0, 1.02)
    ax.set_title("perfgraph tune --replay: %d kernels, %d seeds, batch %d"
                 % (report["kernels"], report["seeds"], report["batch"]))
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)


if __name__ == "__main__":
    main()
