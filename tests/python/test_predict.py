"""perfgraph.Predictor: batched runtime predictions, against `perfgraph predict`."""
import threading

import numpy as np
import pytest

import perfgraph
from conftest import TINY_CNN, TINY_CNN_SHAPE_FLAG, cli_jsonl


@pytest.fixture(scope="module")
def learned():
    return perfgraph.Predictor()


def test_the_shipped_learned_model_is_the_default(learned):
    assert learned.name == "learned"
    assert learned.model_dir.endswith("models/default")
    assert learned.threads >= 1


@pytest.mark.parametrize("cost_model", ["learned", "analytical", "xgboost"])
def test_best_config_and_its_prediction_equal_perfgraph_predict(tiny_cnn, cost_model):
    # `predict` on a model file: default fusion, every kernel at the argmin over its whole config
    # space (first in ConfigSpace order on ties, as np.argmin), for all logical cores (threads=0).
    rows = cli_jsonl("predict", "--format", "jsonl", "--cost-model", cost_model,
                     *TINY_CNN_SHAPE_FLAG, TINY_CNN)
    kernel_rows = [r for r in rows if r["row"] == "kernel"]
    assert [r["kernel"] for r in kernel_rows] == [k.name for k in tiny_cnn.kernels]
    predictor = perfgraph.Predictor(cost_model=cost_model)
    for kernel, row in zip(tiny_cnn.kernels, kernel_rows):
        assert kernel.kernel_hash == int(row["kernel_hash"], 16)
        assert row["error"] is None, row["error"]
        ns = predictor.predict(kernel)
        assert ns.dtype == np.float64
        assert ns.shape == (len(kernel.config_space),)
        assert np.all(ns > 0)
        best = int(np.argmin(ns))
        assert str(kernel.config_space[best]) == row["config"]
        assert ns[best] == row["predicted_ns"]


def test_a_batch_predicts_each_config_as_on_its_own(tiny_cnn, learned):
    kernel = tiny_cnn.kernels[0]
    space = kernel.config_space
    everything = learned.predict(kernel, space)
    picked = [0, len(space) // 2, len(space) - 1, space.default_index]
    some = learned.predict(kernel, [space[i] for i in picked])
    np.testing.assert_array_equal(some, everything[picked])
    one = learned.predict(kernel, str(space[picked[1]]))
    assert one.shape == (1,)
    assert one[0] == everything[picked[1]]
    assert learned.predict(kernel, []).shape == (0,)


def test_configs_change_the_prediction(tiny_cnn, learned):
    # A cost model that ignored the config would make tiling pointless.
    for kernel in tiny_cnn.kernels:
        ns = learned.predict(kernel)
        if len(ns) > 1:
            assert np.unique(ns).size > 1, kernel.name


def test_threads_share_one_predictor_safely(tiny_cnn, learned):
    expected = {k.name: learned.predict(k) for k in tiny_cnn.kernels}
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                for k in tiny_cnn.kernels:
                    results.append((k.name, learned.predict(k)))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 4 * 3 * len(tiny_cnn.kernels)
    for name, ns in results:
        np.testing.assert_array_equal(ns, expected[name])


def test_out_of_distribution_is_a_string(tiny_cnn, learned):
    for kernel in tiny_cnn.kernels:
        assert isinstance(learned.out_of_distribution(kernel), str)
    analytical = perfgraph.Predictor(cost_model="analytical")
    assert all(analytical.out_of_distribution(k) == "" for k in tiny_cnn.kernels)
