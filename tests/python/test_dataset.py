"""perfgraph.read_dataset: records of a .pgd file with features computed at load (as train does).

The dataset is the worked example of `perfgraph dataset import` (tests/testdata/byo), written to
pytest's tmp_path by the CLI; its runtimes are known from the CSV.
"""
import csv
import os
import shutil

import numpy as np
import pytest

import perfgraph
from conftest import TESTDATA, cli_jsonl, run_cli

BYO = TESTDATA / "byo"


@pytest.fixture(scope="module")
def byo_dataset(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("byo") / "byo.pgd")
    result = run_cli("dataset", "import", "--hlo", str(BYO), "--runtimes",
                     str(BYO / "runtimes.csv"), "--out", path)
    assert result.returncode == 0, result.stderr
    return path


def csv_samples():
    """{(program, kernel, config text or 'default'): [runtime_ns...]} of runtimes.csv. The kernel
    `module` (the whole entry computation as one kernel) is named after its program."""
    samples = {}
    with open(BYO / "runtimes.csv") as f:
        rows = csv.reader(line for line in f if not line.startswith("#"))
        next(rows)  # header
        for module, kernel, config, ns in rows:
            program = os.path.splitext(module)[0]
            key = (program, program if kernel == "module" else kernel, config)
            samples.setdefault(key, []).append(float(ns))
    return samples


def test_records_hold_the_imported_runtimes_and_features(byo_dataset):
    expected = csv_samples()
    records = list(perfgraph.read_dataset(byo_dataset))
    assert len(records) == 9
    seen = set()
    for i, record in enumerate(records):
        assert record.index == i
        assert record.status == "ok"
        assert record.task in ("tile", "fusion")
        assert record.config is not None
        config_text = "default" if record.is_default else str(record.config)
        key = (record.program, record.kernel.name, config_text)
        if key not in expected:  # an explicit config that happens to be the default
            key = (record.program, record.kernel.name, str(record.config))
        assert key in expected, key
        seen.add(key)
        assert sorted(record.runtime_ns) == sorted(expected[key])
        assert record.runtime_ns.dtype == np.float64
        assert record.label_ns == min(expected[key])
        kernel = record.kernel
        assert kernel.node_feat.shape == (kernel.num_nodes, perfgraph.NUM_NODE_FEATURES)
        assert kernel.node_feat.dtype == np.float32
        assert kernel.edge_index.shape == (kernel.num_edges, 2)
        assert record.config_feat.shape == (perfgraph.NUM_CONFIG_FEATURES,)
        assert record.config_feat.dtype == np.float32
        # The features are those of the config for this kernel, as for any loaded kernel.
        np.testing.assert_array_equal(record.config_feat, kernel.config_feat([record.config])[0])
    assert seen == set(expected)  # one record per (program, kernel, config) of the CSV


def test_records_match_perfgraph_predict_on_the_dataset(byo_dataset):
    reader = perfgraph.read_dataset(byo_dataset)
    assert reader.header["feature_schema_version"] == perfgraph.FEATURE_SCHEMA_VERSION
    records = list(reader)
    rows = [r for r in cli_jsonl("predict", "--format", "jsonl", "--cost-model", "analytical",
                                 byo_dataset) if r["row"] == "kernel"]
    assert len(rows) == len(records)
    machine = reader.header["machine"]
    threads = machine["num_threads"] if machine and machine["num_threads"] > 0 else 0
    predictor = perfgraph.Predictor(cost_model="analytical", threads=threads)
    for record, row in zip(records, rows):
        assert row["program"] == record.program
        assert row["kernel"] == record.kernel.name
        assert int(row["kernel_hash"], 16) == record.kernel.kernel_hash
        assert row["config"] == str(record.config)
        assert row["measured_ns"] == record.label_ns
        assert predictor.predict(record.kernel, [record.config])[0] == row["predicted_ns"]


def test_the_reader_is_an_iterator_that_stays_exhausted(byo_dataset):
    reader = perfgraph.read_dataset(byo_dataset)
    assert iter(reader) is reader
    assert sum(1 for _ in reader) == 9
    assert reader.records_read == 9
    assert reader.dropped_tail_bytes == 0
    with pytest.raises(StopIteration):
        next(reader)


def test_a_torn_tail_is_dropped_and_reported(byo_dataset, tmp_path):
    torn = tmp_path / "torn.pgd"
    data = open(byo_dataset, "rb").read()
    torn.write_bytes(data[:-5])  # a writer killed inside the last record
    reader = perfgraph.read_dataset(str(torn))
    assert len(list(reader)) == 8
    assert reader.dropped_tail_bytes > 0


def test_corruption_raises_naming_the_file_and_record(byo_dataset, tmp_path):
    corrupt = tmp_path / "corrupt.pgd"
    shutil.copy(byo_dataset, corrupt)
    data = bytearray(corrupt.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside some record
    corrupt.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="corrupt.pgd") as error:
        list(perfgraph.read_dataset(str(corrupt)))
    assert error.value.status_code == "DATA_LOSS"
    assert "record" in str(error.value)


def test_a_file_that_is_not_a_dataset_is_a_value_error(tmp_path):
    path = tmp_path / "plain.pgd"
    path.write_text("hello, I am not a dataset\n" * 4)
    with pytest.raises(ValueError, match="not a perfgraph dataset"):
        perfgraph.read_dataset(str(path))
