"""Errors arrive as Python exceptions carrying the absl::Status message (python/status_exception.h):
ValueError (InvalidArgument, OutOfRange), FileNotFoundError (NotFound), NotImplementedError
(Unimplemented; a RuntimeError), RuntimeError (any other code); `status_code` names the code.
Where the CLI reports the same error, the messages are identical."""
import pytest

import perfgraph
from conftest import TESTDATA, TINY_CNN, TINY_CNN_SHAPES, cli_error

CLI = TESTDATA / "cli"


@pytest.mark.parametrize("model,exception,code", [
    ("does/not/exist.onnx", FileNotFoundError, "NOT_FOUND"),
    (str(CLI / "not_a_model.txt"), ValueError, "INVALID_ARGUMENT"),
    (str(CLI / "cycle.onnx"), ValueError, "INVALID_ARGUMENT"),
    (str(CLI / "unknown_dtype.onnx"), ValueError, "INVALID_ARGUMENT"),
    (str(CLI / "unsupported_op.onnx"), NotImplementedError, "UNIMPLEMENTED"),
    (TINY_CNN, ValueError, "INVALID_ARGUMENT"),  # the batch dim N is not given
])
def test_import_errors_carry_the_cli_message(model, exception, code):
    with pytest.raises(exception) as error:
        perfgraph.load(model)
    assert error.value.status_code == code
    assert str(error.value) == cli_error("inspect", model)
    assert model in str(error.value)
    # plan() imports the same way (after building its cost model).
    with pytest.raises(exception) as planned:
        perfgraph.plan(model, cost_model="analytical")
    assert str(planned.value) == str(error.value)


def test_unimplemented_is_also_a_runtime_error():
    with pytest.raises(RuntimeError, match="Det"):
        perfgraph.load(str(CLI / "unsupported_op.onnx"))


@pytest.mark.parametrize("kwargs,message", [
    ({"dims": {"N": 0}}, r"dims\['N'\]: 0 is not an integer in \[1, 2\^40\]"),
    ({"input_shapes": {"input": [1, -3, 16, 16]}}, r"input_shapes\['input'\]: -3"),
    ({"input_shapes": {"": [1]}}, "empty input name"),
])
def test_bad_shapes_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        perfgraph.load(TINY_CNN, **kwargs)


def test_wrong_argument_types_are_type_errors(tiny_cnn):
    with pytest.raises(TypeError):
        perfgraph.load(TINY_CNN, dims={"N": "one"})
    with pytest.raises(TypeError, match="TileConfig or its text"):
        perfgraph.Predictor(cost_model="analytical").predict(tiny_cnn.kernels[0], [42])


@pytest.mark.parametrize("kwargs,exception,message", [
    ({"cost_model": "oracle"}, ValueError, "oracle"),
    ({"fusion": "greedy", "cost_model": "analytical"}, ValueError, "greedy"),
    ({"threads": -1, "cost_model": "analytical"}, ValueError, "threads must be >= 0"),
    ({"min_predicted_gain": -0.5, "cost_model": "analytical"}, ValueError, "min_predicted_gain"),
    ({"min_predicted_gain": float("nan"), "cost_model": "analytical"}, ValueError,
     "min_predicted_gain"),
])
def test_bad_plan_options(kwargs, exception, message):
    with pytest.raises(exception, match=message):
        perfgraph.plan(TINY_CNN, input_shapes=TINY_CNN_SHAPES, **kwargs)


def test_a_model_directory_without_a_model(tmp_path):
    with pytest.raises(RuntimeError, match="no learned model in") as error:
        perfgraph.Predictor(str(tmp_path))
    assert error.value.status_code == "FAILED_PRECONDITION"
    assert str(tmp_path) in str(error.value)
    with pytest.raises(RuntimeError, match="no learned model in"):
        perfgraph.plan(TINY_CNN, input_shapes=TINY_CNN_SHAPES, model_dir=str(tmp_path))
    with pytest.raises(ValueError, match="oracle"):
        perfgraph.Predictor(cost_model="oracle")
    with pytest.raises(ValueError, match="no model_dir"):
        perfgraph.Predictor(str(tmp_path), cost_model="analytical")


def test_configs_that_do_not_fit_the_kernel(tiny_cnn):
    predictor = perfgraph.Predictor(cost_model="analytical")
    kernel = tiny_cnn.kernels[0]
    # Slot 0 tiles a dim the kernel's root does not have (rank 4 at most).
    bad = "tile=8,0,0;dims=9,-1,-1;split=1;vec=8;par=-1"
    with pytest.raises(ValueError, match="dims=9") as error:
        predictor.predict(kernel, [kernel.default_config, bad])
    assert error.value.status_code == "INVALID_ARGUMENT"
    with pytest.raises(ValueError, match="config 0"):
        kernel.config_feat([bad])
    with pytest.raises(ValueError, match="banana"):
        perfgraph.TileConfig("tile=banana")
    with pytest.raises(ValueError, match="banana"):
        predictor.predict(kernel, ["tile=banana"])


def test_missing_dataset_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pgd"):
        perfgraph.read_dataset(str(tmp_path / "nothing.pgd"))
