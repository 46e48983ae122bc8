"""Training on several processes: `torchrun --nproc_per_node 2` (gloo on CPU) runs the smoke fine-tune,
prepares the data on every process without clashing, and writes one run directory from rank 0 whose
metrics have the shape of a one-process run's and come close to them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core import run_dir as rd
from core.facts import REPO_ROOT

COMMON = [
    "--preset",
    "smoke",
    "--experiment",
    "de",
    "--max-train-samples",
    "96",
    "--max-eval-samples",
    "48",
    "--num-epochs",
    "2",
    "--eval-languages",
    "de,fr",
    "--quiet",
]


def train(out, processes: int, batch: int) -> subprocess.CompletedProcess:
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--standalone"]
        if processes > 1
        else [sys.executable]
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*launcher, "-m", "training.train", *COMMON, "--train-batch-size", str(batch), "--output-dir", str(out)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    one = train(root / "one", 1, 16)
    two = train(root / "two", 2, 8)  # the same 16 sentences per optimizer step, split over two processes
    assert one.returncode == 0, one.stderr[-3000:]
    assert two.returncode == 0, two.stderr[-3000:]
    return root / "one", root / "two", two


def test_two_processes_write_one_finished_run_directory(runs):
    _, two, result = runs
    assert rd.is_finished(two)
    assert sorted(p.name for p in two.parent.iterdir()) == ["one", "two"]  # no second or half-written copy
    assert result.stdout.count("run directory:") == 1  # rank 0 alone reports (and writes) it
    hyper = rd.read_json(two, rd.HYPERPARAMETERS)
    assert hyper["processes"] == 2 and hyper["total_train_batch_size"] == 16


def test_metrics_have_the_shape_of_one_process_and_come_close(runs):
    one, two, _ = runs
    single, double = rd.read_json(one, rd.EVAL_RESULTS), rd.read_json(two, rd.EVAL_RESULTS)
    assert single.keys() == double.keys() and single["languages"].keys() == double["languages"].keys()
    for lang, scores in single["languages"].items():
        other = double["languages"][lang]
        assert scores.keys() == other.keys() and scores["num_sentences"] == other["num_sentences"]
        assert other["f1"] == pytest.approx(scores["f1"], abs=0.1)
    steps = [rd.read_json(run, rd.TRAINER_STATE)["global_step"] for run in (one, two)]
    assert steps[0] == steps[1]  # same sentences per step: same number of steps
