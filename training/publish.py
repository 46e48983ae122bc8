"""Publish a run directory as a Hub model repo, or as a local mirror of one.

    python -m training.publish RUN_DIR --repo-id NAMESPACE/NAME              # the Hub (token: login or HF_TOKEN)
    python -m training.publish RUN_DIR --repo-id NAMESPACE/NAME --hub-dir DIR  # DIR/NAMESPACE/NAME, offline

The card is rendered by cards.render (never by Trainer.push_to_hub, which would overwrite it),
the release tree is staged in a temporary folder, then uploaded in one commit (`upload_folder`),
so a failed upload changes nothing and re-running is safe.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from huggingface_hub import HfApi

from training import run_dir as rd
from training.facts import RESULTS_DIR

# What a release holds besides the rendered card and its plots.
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
LOG_FILES = (rd.TRAINER_STATE, rd.HYPERPARAMETERS, rd.EVAL_RESULTS, rd.DATA_SUMMARY, rd.RUN_INFO)
# A pretrained base (python -m training.pretrain) has its report instead of a fine-tuning run's logs.
BASE_REPORT = "pretraining.json"
BASE_FILES = (BASE_REPORT, "pretraining_loss.png")


def is_base(folder: Path) -> bool:
    return (folder / BASE_REPORT).is_file() and not (folder / rd.TRAINER_STATE).is_file()


class PublishError(RuntimeError):
    """Publishing failed; the message says why and what to do."""


def check_run_dir(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise PublishError(f"run directory {run_dir} does not exist; make one with python -m training.train")
    missing = [name for name in MODEL_FILES + LOG_FILES if not (run_dir / name).is_file()]
    if missing:
        raise PublishError(
            f"run directory {run_dir} is incomplete (missing {', '.join(missing)}); "
            "was training interrupted? finish it with python -m training.train --resume"
        )


def stage_release(run_dir: str | Path, dest: str | Path, repo_id: str, results_dir: str | Path | None = RESULTS_DIR,
                  fp16: bool = False) -> Path:
    """Write the release tree (model, tokenizer, logs, card, plots) into dest, which must not exist."""
    from cards import card_assets, render_card

    run_dir, dest = Path(run_dir), Path(dest)
    if is_base(run_dir):
        return stage_base(run_dir, dest, repo_id, results_dir, fp16)
    check_run_dir(run_dir)
    dest.mkdir(parents=True)
    for name in MODEL_FILES + LOG_FILES:
        shutil.copy2(run_dir / name, dest / name)
    if fp16:
        halve_weights(dest / "model.safetensors")
    results = Path(results_dir) if results_dir and Path(results_dir).is_dir() else None
    for rel_name, source in card_assets(results).items():
        (dest / rel_name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / rel_name)
    (dest / rd.CARD).write_text(render_card(run_dir, results_dir=results, repo_id=repo_id), encoding="utf-8")
    return dest


def stage_base(base_dir: Path, dest: Path, repo_id: str, results_dir=RESULTS_DIR, fp16: bool = False) -> Path:
    """The release of the offline base: model, tokenizer, its pretraining report and its card."""
    from cards import render_base_card

    missing = [n for n in MODEL_FILES + BASE_FILES if not (base_dir / n).is_file()]
    if missing:
        raise PublishError(f"base folder {base_dir} is incomplete (missing {', '.join(missing)}); "
                           "finish it with python -m training.pretrain --resume")
    dest.mkdir(parents=True)
    for name in MODEL_FILES + BASE_FILES:
        shutil.copy2(base_dir / name, dest / name)
    if fp16:
        halve_weights(dest / "model.safetensors")
    # The study adds its downstream evidence to results/pretraining.json: prefer that fuller report.
    report = Path(results_dir) / BASE_REPORT if results_dir else None
    report = report if report and report.is_file() else None
    (dest / rd.CARD).write_text(render_base_card(base_dir, report=report, repo_id=repo_id), encoding="utf-8")
    return dest


def halve_weights(path: Path) -> None:
    """Store float weights as fp16: half the bytes; transformers upcasts on load as configured."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = {k: (v.half() if v.is_floating_point() else v) for k, v in load_file(str(path)).items()}
    save_file(tensors, str(path), metadata={"format": "pt"})


def write_release(run_dir: Path, target: Path, repo_id: str, results_dir=RESULTS_DIR, fp16: bool = False) -> Path:
    """Stage the release beside target, then swap it in with one rename: never half a tree at target."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
        staged = stage_release(run_dir, Path(tmp) / "release", repo_id, results_dir, fp16)
        if target.exists():
            target.rename(Path(tmp) / "old")  # removed with tmp once the new tree is in place
        staged.rename(target)
    return target


def publish_to_mirror(run_dir: Path, repo_id: str, hub_dir: Path, results_dir=RESULTS_DIR, fp16: bool = False) -> Path:
    """The same tree the Hub would get, at hub_dir/NAMESPACE/NAME."""
    return write_release(run_dir, Path(hub_dir) / repo_id, repo_id, results_dir, fp16)


def hub_token() -> str:
    from huggingface_hub import get_token

    token = os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise PublishError("no Hugging Face token: run `hf auth login` or set HF_TOKEN (the token is never printed or saved)")
    return token


def publish_to_hub(run_dir: Path, repo_id: str, private: bool = False, results_dir=RESULTS_DIR, api: HfApi | None = None) -> str:
    """create_repo (idempotent) + one upload_folder commit; returns the commit URL."""
    api = api or HfApi(token=hub_token())
    with tempfile.TemporaryDirectory(prefix="panx-release-") as tmp:
        staged = stage_release(run_dir, Path(tmp) / "release", repo_id, results_dir)
        try:
            api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
            commit = api.upload_folder(
                folder_path=str(staged), repo_id=repo_id, repo_type="model",
                commit_message=f"Upload {repo_id} from panx-ner",
            )
        except Exception as err:  # network, auth, quota: all end the same way for the user
            raise PublishError(
                f"upload of {repo_id} failed ({type(err).__name__}: {err}); the upload is one commit, so the "
                "Hub repo is unchanged: check the network and token, then re-run the same command"
            ) from err
    return str(getattr(commit, "commit_url", commit))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a finished run directory from python -m training.train")
    parser.add_argument("--repo-id", required=True, help="NAMESPACE/NAME on the Hub")
    parser.add_argument("--hub-dir", default=None, help="write a local mirror DIR/NAMESPACE/NAME instead of uploading")
    parser.add_argument("--out", default=None, help="write the release tree to exactly this folder (e.g. the bundled base/)")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="study results whose plots go with the card")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--fp16", action="store_true", help="store weights in fp16 (--hub-dir/--out only; halves the size)")
    args = parser.parse_args(argv)
    if args.repo_id.count("/") != 1 or not all(args.repo_id.split("/")):
        print(f"error: --repo-id must look like NAMESPACE/NAME, not {args.repo_id!r}", file=sys.stderr)
        return 2
    try:
        if args.out:
            where = write_release(Path(args.run_dir), Path(args.out), args.repo_id, args.results_dir, args.fp16)
        elif args.hub_dir:
            where = publish_to_mirror(Path(args.run_dir), args.repo_id, Path(args.hub_dir), args.results_dir, args.fp16)
        else:
            where = publish_to_hub(Path(args.run_dir), args.repo_id, args.private, args.results_dir)
    except (PublishError, rd.RunDirError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"published {args.repo_id}: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
