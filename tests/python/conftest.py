"""Shared fixtures of the perfgraph Python module's tests (README "Python").

CTest runs each test file with PYTHONPATH=<build>/python and PERFGRAPH_BIN=<build>/perfgraph
(tests/CMakeLists.txt). By hand, from the source tree:

    PYTHONPATH=build/python PERFGRAPH_BIN=build/perfgraph python3 -m pytest -p no:cacheprovider tests/python

The CLI is the reference: results of the module are compared with what `perfgraph` prints for the
same input.
"""
import json
import os
import pathlib
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]
TESTDATA = SOURCE_DIR / "tests" / "testdata"
TINY_CNN = str(TESTDATA / "cli" / "tiny_cnn_dynamic_batch.onnx")
# tiny_cnn's input is [N, 3, 16, 16] with a symbolic batch N.
TINY_CNN_SHAPES = {"input": [1, 3, 16, 16]}
TINY_CNN_SHAPE_FLAG = ["--input-shape", "input=1,3,16,16"]


def perfgraph_binary():
    path = os.environ.get("PERFGRAPH_BIN", str(SOURCE_DIR / "build" / "perfgraph"))
    if not os.path.isfile(path):
        pytest.fail(f"the perfgraph executable {path} does not exist: build it, or set PERFGRAPH_BIN")
    return path


def run_cli(*args):
    """Runs `perfgraph ARGS...` from the source tree; returns the CompletedProcess (text)."""
    return subprocess.run([perfgraph_binary(), *args], capture_output=True, text=True,
                          cwd=SOURCE_DIR, check=False)


def cli_json(*args):
    """stdout of a successful `perfgraph ARGS...` parsed as one JSON document."""
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cli_jsonl(*args):
    """stdout of a successful `perfgraph ARGS...` parsed as JSON lines."""
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def cli_error(*args):
    """The message of a failing `perfgraph SUBCOMMAND ARGS...`: stderr without the
    "perfgraph SUBCOMMAND: " prefix (tools/cli.h ReportError)."""
    result = run_cli(*args)
    assert result.returncode != 0, result.stdout
    prefix = f"perfgraph {args[0]}: "
    lines = [line for line in result.stderr.splitlines() if line.startswith(prefix)]
    assert lines, result.stderr
    return lines[-1][len(prefix):]


@pytest.fixture(scope="session")
def tiny_cnn():
    import perfgraph
    return perfgraph.load(TINY_CNN, input_shapes=TINY_CNN_SHAPES)
