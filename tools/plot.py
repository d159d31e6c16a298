#!/usr/bin/python3
"""Draws perfgraph's accuracy and plan pictures from its JSON output (Debian's python3-matplotlib).

Called by `perfgraph eval --plot DIR` and `perfgraph plan --plot FILE`, or by hand:
  /usr/bin/python3 tools/plot.py eval DIR/eval_points.json DIR
      scatter_tile.{png,svg}, scatter_fusion.{png,svg}: predicted vs measured runtime, log-log, one
      panel per model (learned, xgboost when present, analytical) with the y = x line;
      tau_histogram.{png,svg}: each tile kernel's Kendall's tau per model.
  /usr/bin/python3 tools/plot.py plan PLAN.json OUT.png|OUT.svg
      per kernel (longest default first) the predicted time of the chosen config, of the default
      config and, after `plan --measure`, the measured time of the chosen config.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FORMATS = ("png", "svg")
COLORS = {"learned": "C0", "xgboost": "C2", "analytical": "C1"}


def save(fig, out_dir, stem):
    for fmt in FORMATS:
        fig.savefig(os.path.join(out_dir, "%s.%s" % (stem, fmt)), dpi=120)
    plt.close(fig)


def scatter(points, task, out_dir):
    kernels = [k for k in points["kernels"] if k["task"] == task]
    columns = points["columns"]
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 4.2), squeeze=False)
    for ax, column in zip(axes[0], columns):
        xs, ys = [], []
        for k in kernels:
            for measured, predicted in zip(k["measured_ns"], k["predicted_ns"][column]):
                if measured is not None and predicted is not None and measured > 0 and predicted > 0:
                    xs.append(measured)
                    ys.append(predicted)
        if xs:
            ax.scatter(xs, ys, s=4, alpha=0.35, color=COLORS.get(column, "C3"), linewidths=0)
            lo = min(min(xs), min(ys))
            hi = max(max(xs), max(ys))
            ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.8, label="y = x")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.legend(fontsize=8, loc="upper left")
        else:
            ax.text(0.5, 0.5, "no %s points" % task, ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_title("%s (%d %s)" % (column, len(xs), "configs" if task == "tile" else "kernels"))
        ax.set_xlabel("measured ns")
        ax.set_ylabel("predicted ns")
        ax.grid(True, which="both", linewidth=0.3)
    fig.suptitle("%s task: predicted vs measured, %s programs (%d)" % (
        task, points["split_part"], len(points["programs"])))
    fig.tight_layout()
    save(fig, out_dir, "scatter_" + task)


def tau_histogram(points, out_dir):
    columns = points["columns"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    bins = [i / 10.0 for i in range(-10, 11)]
    for column in columns:
        taus = [k["kendall_tau"][column] for k in points["kernels"]
                if k["task"] == "tile" and k["kendall_tau"].get(column) is not None]
        if not taus:
            continue
        mean = sum(taus) / len(taus)
        ax.hist(taus, bins=bins, histtype="step", linewidth=1.5, color=COLORS.get(column, "C3"),
                label="%s: mean %.3f over %d kernels" % (column, mean, len(taus)))
    ax.set_xlabel("Kendall's tau of a tile kernel's configs")
    ax.set_ylabel("kernels")
    ax.set_title("per-kernel tile tau, %s programs" % points["split_part"])
    ax.grid(True, linewidth=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    save(fig, out_dir, "tau_histogram")


def plot_eval(points_file, out_dir):
    with open(points_file) as f:
        points = json.load(f)
    for task in ("tile", "fusion"):
        scatter(points, task, out_dir)
    tau_histogram(points, out_dir)


def plot_plan(plan_file, out_file):
    with open(plan_file) as f:
        plan = json.load(f)
    rows = [k for k in plan["kernels"] if k.get("predicted_ns") is not None]
    rows.sort(key=lambda k: -(k.get("default_predicted_ns") or k["predicted_ns"]))
    if not rows:
        sys.exit("plot.py: %s has no kernel with a prediction" % plan_file)
    series = [("predicted, chosen config", "predicted_ns", "C0"),
              ("predicted, default config", "default_predicted_ns", "C7")]
    if any(k.get("measured_ns") is not None for k in rows):
        series.append(("measured, chosen config", "measured_ns", "C3"))
    height = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.22 * len(rows) * len(series) + 1.5)))
    for i, (label, key, color) in enumerate(series):
        ys = [r + i * height for r in range(len(rows))]
        widths = [(k.get(key) or 0) / 1e3 for k in rows]
        ax.barh(ys, widths, height=height, color=color, label=label)
    ax.set_yticks([r + height * (len(series) - 1) / 2 for r in range(len(rows))])
    ax.set_yticklabels([k["name"] for k in rows], fontsize=6)
    ax.invert_yaxis()
    if max((k.get("default_predicted_ns") or 0) for k in rows) > 0:
        ax.set_xscale("log")
    ax.set_xlabel("time per execution, us")
    total = plan.get("total_predicted_ns")
    total_default = plan.get("total_default_predicted_ns")
    title = "%s, %s model" % (os.path.basename(plan.get("program", plan_file)), plan.get("cost_model"))
    if total and total_default:
        title += ": %.3g ms planned vs %.3g ms default (predicted)" % (total / 1e6, total_default / 1e6)
    ax.set_title(title, fontsize=9)
    ax.grid(True, axis="x", which="both", linewidth=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out_file, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    e = sub.add_parser("eval")
    e.add_argument("points")
    e.add_argument("out_dir")
    p = sub.add_parser("plan")
    p.add_argument("plan")
    p.add_argument("out_file")
    args = parser.parse_args()
    if args.kind == "eval":
        plot_eval(args.points, args.out_dir)
    else:
        plot_plan(args.plan, args.out_file)


if __name__ == "__main__":
    main()
