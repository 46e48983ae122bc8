"""core.loading on broken folders, as a user meets them (no HF_HUB_OFFLINE), and core.cli's one line for
a full disk, whichever library raised it."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys

import pytest
from user_env import user_env

from core import run_dir as rd
from core.cli import FAILED, run, storage_problem
from core.facts import REPO_ROOT
from core.loading import ModelFolderError, load_token_classifier

LOAD = "import sys\nfrom core.loading import load_token_classifier\nload_token_classifier(sys.argv[1])\n"


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda folder: (folder / rd.MODEL_WEIGHTS).write_bytes((folder / rd.MODEL_WEIGHTS).read_bytes()[:4096]),
            "model.safetensors in model cannot be read",
        ),
        (lambda folder: (folder / rd.MODEL_CONFIG).write_text("{ not json"), "config.json in model cannot be read"),
        (lambda folder: (folder / rd.TOKENIZER_FILES[0]).unlink(), "model has config.json but no tokenizer.json"),
    ],
    ids=["truncated-weights", "broken-config", "no-tokenizer"],
)
def test_a_broken_full_model_is_named_without_asking_the_hub(
    smoke_run_dir, tmp_path, unreachable_hub, user_hf_home, damage, message
):
    folder = tmp_path / "model"
    shutil.copytree(smoke_run_dir, folder)
    damage(folder)
    with pytest.raises(ModelFolderError, match=message):
        load_token_classifier(folder)
    # The same in a user's process: the folder's fault, not "ConnectError" from a Hub look-up.
    asked = len(unreachable_hub.requests)
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(folder)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=user_env(unreachable_hub, user_hf_home),
    )
    assert done.returncode != 0 and message in done.stderr
    assert unreachable_hub.requests[asked:] == []


def test_an_adapter_without_its_base_says_how_to_build_it(adapter_dir, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelFolderError, match="not built; build it with python -m core.e5_base"):
        load_token_classifier(adapter_dir)


class SafetensorError(Exception):
    """Stands for safetensors' own error type, which keeps only the text of the OSError it met."""


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device", "/data/run/model.safetensors"),
        SafetensorError(
            'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
        ),
        RuntimeError("saving failed"),  # raised from the OSError below
    ],
    ids=["oserror", "library-text", "chained"],
)
def test_a_full_disk_is_one_line_and_exit_1_whoever_raised_it(error, capsys):
    def main(argv):
        if isinstance(error, RuntimeError):
            raise error from OSError(errno.ENOSPC, "No space left on device")
        raise error

    assert run(main) == FAILED
    err = capsys.readouterr().err
    assert err.startswith("error: No space left on device") and err.count("\n") == 1


def test_other_errors_are_not_taken_for_a_full_disk():
    assert storage_problem(ValueError("bad value")) is None
    with pytest.raises(ValueError):
        run(lambda argv: (_ for _ in ()).throw(ValueError("a bug shows its traceback")))


def test_an_adapter_trained_on_packed_passages_reads_in_windows_of_their_length(adapter_dir, tmp_path):
    """pipeline(stride=...) reads long texts in windows of model_max_length: an adapter trained on passages
    of 128 subwords gets a tokenizer of that length, without changing the one its base's other adapters share."""
    from core.facts import MAX_INPUT_TOKENS
    from core.loading import tokenizer_of

    bundled = REPO_ROOT / "space" / "models" / "de"
    hyper = rd.Hyperparameters.read(bundled)
    assert hyper.window == 128 and tokenizer_of(bundled).model_max_length == 128  # preset e5 packs passages of 128
    unpacked, packed = tmp_path / "unpacked", tmp_path / "packed"
    for folder, share in ((unpacked, 0.0), (packed, 1.0)):
        shutil.copytree(adapter_dir, folder)
        rd.Hyperparameters.from_json({**hyper.to_json(), "pack_share": share, "pack_length": 128}).write(folder)
    assert rd.Hyperparameters.read(unpacked).window is None and rd.Hyperparameters.read(packed).window == 128
    assert tokenizer_of(unpacked).model_max_length == MAX_INPUT_TOKENS  # one sentence per example: the base's limit

    tokenizer, _ = load_token_classifier(packed)
    assert tokenizer.model_max_length == tokenizer_of(packed).model_max_length == 128
    assert tokenizer_of(adapter_dir).model_max_length == MAX_INPUT_TOKENS  # the shared base tokenizer is untouched
    # What the pipeline asks for with a stride: windows of model_max_length, specials included.
    windows = tokenizer(
        "Jeff Dean arbeitet bei Google. " * 60, truncation=True, return_overflowing_tokens=True, stride=32
    )
    assert len(windows["input_ids"]) > 1 and max(map(len, windows["input_ids"])) == 128
