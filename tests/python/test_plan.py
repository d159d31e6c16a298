"""perfgraph.plan: the same dict as `perfgraph plan --json` (both built by pipeline::PlanReport)."""
import pytest

import perfgraph
from conftest import TESTDATA, TINY_CNN, TINY_CNN_SHAPE_FLAG, TINY_CNN_SHAPES, cli_json

LOOPS = str(TESTDATA / "hlo" / "loops.hlo")
OPTIMIZED = str(TESTDATA / "hlo" / "optimized_fusions.hlo")


@pytest.mark.parametrize("cost_model", ["learned", "analytical", "xgboost"])
def test_plan_equals_the_cli_json(cost_model):
    plan = perfgraph.plan(TINY_CNN, cost_model=cost_model, input_shapes=TINY_CNN_SHAPES)
    expected = cli_json("plan", "--json", "--cost-model", cost_model, *TINY_CNN_SHAPE_FLAG, TINY_CNN)
    assert plan == expected
    # The contract's keys (DESIGN.md), and a config for every kernel of this small CNN.
    assert plan["cost_model"] == cost_model
    assert plan["fusion"] == "cost"
    assert plan["total_predicted_ns"] > 0
    for kernel in plan["kernels"]:
        assert set(kernel) >= {"name", "config", "predicted_ns"}
        assert kernel["predicted_ns"] > 0
        perfgraph.TileConfig(kernel["config"])  # parses


@pytest.mark.parametrize("model,kwargs,flags", [
    (TINY_CNN, {"dims": {"N": 4}, "fusion": "default", "threads": 1, "min_predicted_gain": 0.0},
     ["--dim", "N=4", "--fusion", "default", "--threads", "1", "--min-predicted-gain", "0"]),
    (LOOPS, {"cost_model": "analytical", "threads": 2}, ["--cost-model", "analytical",
                                                        "--threads", "2"]),
    (OPTIMIZED, {"cost_model": "analytical"}, ["--cost-model", "analytical"]),
])
def test_options_map_to_the_cli_flags(model, kwargs, flags):
    plan = perfgraph.plan(model, **kwargs)
    assert plan == cli_json("plan", "--json", *flags, model)
    if "threads" in kwargs:
        assert plan["threads"] == kwargs["threads"]
    if "min_predicted_gain" in kwargs:
        assert plan["min_predicted_gain"] == kwargs["min_predicted_gain"]


def test_loop_kernels_count_their_trip_counts():
    plan = perfgraph.plan(LOOPS, cost_model="analytical")
    executions = [k["executions"] for k in plan["kernels"]]
    assert any(e is not None and e > 1 for e in executions), executions
    for kernel in plan["kernels"]:  # an unknown trip count says why
        assert (kernel["executions"] is None) == ("executions_note" in kernel)
    total = sum(k["predicted_ns"] * k["executions"] for k in plan["kernels"]
                if k["predicted_ns"] is not None and k["executions"] is not None)
    if not plan["total_notes"]:
        assert plan["total_predicted_ns"] == pytest.approx(total, rel=1e-12)


def test_plan_agrees_with_the_predictor_on_each_chosen_config():
    plan = perfgraph.plan(TINY_CNN, cost_model="analytical", input_shapes=TINY_CNN_SHAPES,
                          fusion="default", threads=1)
    program = perfgraph.load(TINY_CNN, input_shapes=TINY_CNN_SHAPES)
    predictor = perfgraph.Predictor(cost_model="analytical", threads=1)
    assert [k["name"] for k in plan["kernels"]] == [k.name for k in program.kernels]
    for kernel, planned in zip(program.kernels, plan["kernels"]):
        ns = predictor.predict(kernel, [planned["config"], planned["default_config"]])
        assert ns[0] == planned["predicted_ns"]
        assert ns[1] == planned["default_predicted_ns"]
        assert planned["predicted_ns"] <= planned["default_predicted_ns"]
