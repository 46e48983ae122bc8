"""Publish a run directory as a Hub model repo (or a local mirror of one), through the one upload
that the models and the Space (workflow.space_folder) share.

    python -m workflow.publish RUN_DIR --repo-id NS/NAME [--private] [--tag TAG]  # the Hub
    python -m workflow.publish RUN_DIR --repo-id NS/NAME --dry-run                # the upload plan; uploads nothing
    python -m workflow.publish RUN_DIR --repo-id NS/NAME --hub-dir DIR            # DIR/NS/NAME, offline

What goes up is a plain model: an adapter run is merged into its base first, so
`pipeline("token-classification", model="NS/NAME")` needs neither peft nor this project. The release
holds the model (safetensors) and its tokenizer, the run's logs without this machine's folders, the
card (cards.render; never Trainer.push_to_hub, which would overwrite it), rendered last from what the release holds. It
goes up as one `upload_folder` commit that also deletes what the release no longer has, then gets a
tag. The token comes from `hf auth login` or HF_TOKEN and is never printed or written.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core import paths
from core import run_dir as rd
from core.cli import CommandFailed, InputError, run
from core.facts import E5_SMALL, LANGUAGE_NAMES, LANGUAGES, REPO_ROOT, RESULTS_DIR, join_names
from core.files import staged_folder, write_json, write_text

MODEL, SPACE = "model", "space"
# upload_folder deletes every remote file the release lacks, except .gitattributes (which it always keeps).
DELETE_STALE = "*"
KEPT_REMOTE = ".gitattributes"
# One part of a repo id or a tag: it starts with a letter or digit, so "..", ".x" and "-x" are out.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Files a leak check reads; weights and images are numbers.
TEXT_SUFFIXES = (".json", ".md", ".txt", ".py", ".yaml", ".gitattributes")
TOKEN_MASK = "<hf-token>"


class HubUnreachable(CommandFailed):
    """A read-only Hub call failed (offline mode, network, auth): a dry run says "unknown" instead."""


# --- names -------------------------------------------------------------------------------------


def check_repo_id(repo_id: str, flag: str = "--repo-id") -> str:
    """NAMESPACE/NAME as the Hub accepts it; it also keeps a mirror inside --hub-dir (no "..", "/x", "a/b/c")."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    parts = repo_id.split("/")
    try:
        validate_repo_id(repo_id)
        valid = len(parts) == 2 and all(_NAME.fullmatch(part) for part in parts)
    except HFValidationError:
        valid = False
    if not valid:
        raise InputError(
            f"{flag} must be NAMESPACE/NAME (letters, digits, '-', '_', '.'; no '..' or '--'), not {repo_id!r}"
        )
    return repo_id


def check_tag(tag: str) -> str:
    if not _NAME.fullmatch(tag) or ".." in tag or tag.endswith(".lock"):
        raise InputError(
            f"--tag must be letters, digits, '-', '_' and '.', starting with a letter or digit, not {tag!r}"
        )
    return tag


def tag_for(moment: datetime, prefix: str) -> str:
    """ "run-20250115T103207Z": a version tag from a UTC time."""
    return f"{prefix}-{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"


# --- secrets and machine paths -----------------------------------------------------------------


def hf_token() -> str | None:
    """The token huggingface_hub would use (HF_TOKEN, else `hf auth login`'s), read only to keep it out of files."""
    from huggingface_hub import get_token

    return get_token()


def redact(text: str) -> str:
    token = hf_token()
    return text.replace(token, TOKEN_MASK) if token else text


def describe(err: BaseException) -> str:
    """An exception as one line, with the token masked (a library message may quote a request)."""
    text = str(err).strip()
    return redact(f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__)


def portable(value: Any) -> Any:
    """A run log as it is published: absolute paths become repo-relative (or "…/NAME"), the token is masked."""
    return paths.portable(value, redact)


def copy_portable_logs(run_dir: Path, dest: Path) -> None:
    """The run's logs into dest as they are published: without this machine's folders or the token."""
    # As JSON, not as the run_dir dataclasses: every key passes, the Trainer's state and another version's too.
    for name in rd.LOG_FILES:
        write_json(dest / name, portable(rd.read_json(run_dir, name)))


def check_portable(folder: Path, local_folders: list[Path | None]) -> None:
    """Refuse a release whose text names this machine's folders or holds the token (a last check:
    the logs were made portable, but a card or a bundled file could still carry one)."""
    from huggingface_hub import constants

    places = [folder, *local_folders, REPO_ROOT, Path(constants.HF_HUB_CACHE)]
    token = hf_token()
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or not path.name.endswith(TEXT_SUFFIXES):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        name = path.relative_to(folder).as_posix()
        if token and token in text:
            raise InputError(f"{name} would publish your Hugging Face token; remove it from the source files")
        found = paths.named_folders(text, places)
        if found:
            raise InputError(f"{name} would publish the local folder {found[0]}; remove it from the source files")


def normalise_permissions(folder: Path) -> None:
    """safetensors and mkdtemp write private files; a release is for everyone to read."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


# --- the release of a run ------------------------------------------------------------------------


def base_on_hub(run_dir: Path) -> str | None:
    """The Hub model the run's base stands for, as the card names it (the offline base is E5_SMALL's
    weights), or None for a run trained from random weights. A local folder is refused."""
    from cards.inputs import resolve_base_model
    from core.loading import base_of

    named = rd.RunInfo.read(run_dir).base_model
    if rd.is_adapter(run_dir) and base_of(run_dir) != named:
        raise InputError(
            f"{rd.ADAPTER_CONFIG} in {run_dir} names the base {base_of(run_dir)}, but {rd.RUN_INFO} says {named}"
        )
    base = resolve_base_model(named)
    if base.kind == "local":
        raise InputError(
            f"the base of {run_dir} is the local folder {base.name}, which Hub users cannot find; "
            f"publish runs trained from a Hub model or the offline base ({E5_SMALL}'s weights)"
        )
    return base.name if base.on_hub else None


def check_base_exists(api: Any, base: str) -> None:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        ask(api.model_info, base)
    except GatedRepoError:
        return  # on the Hub, behind a licence
    except RepositoryNotFoundError:
        raise InputError(
            f"the base model {base} is not on the Hub; the card would name a base its readers cannot find"
        ) from None


def stage_release(run_dir: Path, dest: Path, repo_id: str, results_dir: Path | None) -> Path:
    """Write the release of a finished run into the empty folder dest: logs, model, tokenizer, then the card."""
    from cards import render_card
    from core.loading import base_of, load_token_classifier

    run_dir = rd.check_finished(run_dir)
    copy_portable_logs(run_dir, dest)
    tokenizer, model = load_token_classifier(run_dir)  # an adapter comes back merged into its base
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    rd.scrub_loader_flags(dest / rd.TOKENIZER_FILES[1])  # how this machine loaded the base is not the tokenizer's
    if rd.is_adapter(run_dir):  # results on the adapter (the pipeline check) name the release too
        write_json(
            dest / rd.MERGED_FROM, {"base_model": base_of(run_dir), "adapter_weights": rd.weights_checksum(run_dir)}
        )
    # Rendered last, from what the release holds.
    write_text(dest / rd.CARD, render_card(dest, results_dir=results_dir, repo_id=repo_id))
    check_portable(dest, [run_dir, results_dir])
    normalise_permissions(dest)
    return dest


def commit_text(release: Path, base: str | None) -> tuple[str, str]:
    """Commit message and description naming the run: experiment, base, preset, test F1, creation time."""
    info = rd.RunInfo.read(release)
    scores = rd.EvalResults.read(release).languages
    trained_on = join_names([LANGUAGE_NAMES[lang] for lang in info.train_languages])
    f1 = ", ".join(f"{lang} {scores[lang].f1:.3f}" for lang in LANGUAGES if lang in scores)
    message = f"{info.model_name}: the {info.experiment} run of {info.created_at}"
    description = "\n".join(
        [
            f"experiment: {info.experiment} (trained on {trained_on})",
            f"base model: {base or info.base_model}",
            f"preset: {rd.Hyperparameters.read(release).preset}",
            f"test F1: {f1}",
            f"created_at: {info.created_at}",
            "published with python -m workflow.publish",
        ]
    )
    return message, description


def run_tag(release: Path) -> str:
    created_at = rd.RunInfo.read(release).created_at
    try:
        return tag_for(datetime.fromisoformat(created_at), "run")
    except (TypeError, ValueError):
        raise InputError(f"{rd.RUN_INFO} has created_at {created_at!r}, not an ISO time; pass --tag") from None


def is_release_of(folder: Path, repo_id: str) -> bool:
    """An empty folder, or one this command wrote for repo_id (its card names the repo)."""
    if not folder.is_dir():
        return False
    if not any(folder.iterdir()):
        return True
    card = folder / rd.CARD
    return (folder / rd.RUN_INFO).is_file() and card.is_file() and repo_id in card.read_text(encoding="utf-8")


def publish_to_mirror(run_dir: Path, repo_id: str, hub_dir: Path, results_dir: Path | None) -> Path:
    """The tree the Hub would get, at hub_dir/NS/NAME, replaced whole (only if it is an earlier release)."""
    if Path(hub_dir).exists() and not Path(hub_dir).is_dir():
        raise InputError(f"--hub-dir {hub_dir} is a file; give a folder (the release goes to DIR/NAMESPACE/NAME)")
    target = Path(hub_dir) / check_repo_id(repo_id)
    source = Path(run_dir).resolve()
    if target.resolve() == source or target.resolve().is_relative_to(source) or source.is_relative_to(target.resolve()):
        raise InputError(
            f"--hub-dir would write the release of {run_dir} into the run directory itself ({target}); "
            "pick a --hub-dir outside it"
        )
    if not target.resolve().is_relative_to(Path(hub_dir).resolve()):
        raise InputError(f"{target} leads outside --hub-dir {hub_dir} (a symbolic link?); pick another --hub-dir")
    if target.exists() and not is_release_of(target, repo_id):
        raise InputError(f"{target} exists and is not a release of {repo_id}; move it away or pick another --hub-dir")
    base_on_hub(run_dir)  # the same refusals as an upload
    with staged_folder(target) as staging:
        stage_release(run_dir, staging, repo_id, results_dir)
    return target


# --- the upload: one function for the models and the Space -------------------------------------


@dataclass(frozen=True)
class Release:
    """A folder to upload to a Hub repo as one commit, then tag."""

    folder: Path
    repo_id: str
    repo_type: str  # MODEL or SPACE
    commit_message: str
    commit_description: str
    tag: str
    private: bool = False  # for a repo this upload creates; an existing repo keeps its visibility
    space_sdk: str | None = None
    checks: tuple[str, ...] = ()  # plan lines about what was checked before (the base model)

    def files(self) -> list[tuple[str, int]]:
        return sorted(
            (p.relative_to(self.folder).as_posix(), p.stat().st_size) for p in self.folder.rglob("*") if p.is_file()
        )


@dataclass(frozen=True)
class Plan:
    """What an upload of a release will do, as far as the Hub can tell beforehand."""

    release: Release
    exists: bool | None  # None: the Hub could not be asked (a dry run offline)
    private: bool | None  # the existing repo's visibility
    deletions: tuple[str, ...] | None  # None: unknown
    tag_commit: str | None = None  # the commit an existing tag of this name names
    unknown: str = ""  # why the Hub could not be asked


def ask(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A read-only Hub call. "Not found" is an answer and passes through; anything else means the
    Hub could not be asked."""
    from huggingface_hub.errors import OfflineModeIsEnabled, RepositoryNotFoundError

    try:
        return call(*args, **kwargs)
    except RepositoryNotFoundError:
        raise
    except OfflineModeIsEnabled as err:
        raise HubUnreachable("offline (HF_HUB_OFFLINE is set)") from err
    except Exception as err:  # network, auth, server: all leave the question open
        raise HubUnreachable(f"the Hub could not be asked ({describe(err)})") from err


def plan_upload(api: Any, release: Release, dry_run: bool) -> Plan:
    from huggingface_hub.errors import RepositoryNotFoundError

    where = {"repo_type": release.repo_type}
    try:
        info = ask(api.repo_info, release.repo_id, **where)
        remote = ask(api.list_repo_files, release.repo_id, **where)
        tags = {ref.name: ref.target_commit for ref in ask(api.list_repo_refs, release.repo_id, **where).tags}
    except RepositoryNotFoundError:
        return Plan(release, exists=False, private=None, deletions=())
    except HubUnreachable as err:
        if not dry_run:
            raise
        return Plan(release, exists=None, private=None, deletions=None, unknown=str(err))
    stale = sorted(set(remote) - {name for name, _ in release.files()} - {KEPT_REMOTE})
    return Plan(
        release, exists=True, private=bool(info.private), deletions=tuple(stale), tag_commit=tags.get(release.tag)
    )


def _visibility(private: bool | None) -> str:
    return "private" if private else "public"


def format_plan(plan: Plan, dry_run: bool) -> str:
    release = plan.release
    if plan.exists is None:
        visibility = f"unknown: {plan.unknown}"
    elif not plan.exists:
        visibility = f"a new {_visibility(release.private)} repo is created"
    elif release.private and not plan.private:
        visibility = "the repo exists and is public: it stays public (--private applies only to a new repo)"
    else:
        visibility = f"the repo exists and is {_visibility(plan.private)}: it stays {_visibility(plan.private)}"
    files = release.files()
    deletions = ["unknown"] if plan.deletions is None else list(plan.deletions) or ["nothing"]
    tag = release.tag
    if plan.tag_commit:
        tag += f" (exists on commit {plan.tag_commit[:7]}; an upload that adds a commit leaves it there)"
    lines = [
        *(["dry run: nothing is uploaded"] if dry_run else []),
        f"repo:        {release.repo_type} {release.repo_id}",
        f"visibility:  {visibility}",
        *release.checks,
        f"files:       {len(files)}, {sum(size for _, size in files):,} bytes",
        *(f"  {size:>13,}  {name}" for name, size in files),
        f"delete:      {', '.join(deletions)}",
        f"commit:      {release.commit_message}",
        *(f"             {line}" for line in release.commit_description.splitlines()),
        f"tag:         {tag}",
    ]
    return "\n".join(lines)


def upload(api: Any, plan: Plan) -> list[str]:
    """create_repo (never changing an existing repo's visibility), one upload_folder commit that also
    deletes stale files, then the tag. Returns what happened, one line each."""
    release, where = plan.release, {"repo_type": plan.release.repo_type}
    new = not plan.exists
    sdk = {"space_sdk": release.space_sdk} if release.space_sdk else {}
    try:
        # private=None for an existing repo: the visibility it has is the owner's choice.
        api.create_repo(release.repo_id, private=release.private if new else None, exist_ok=True, **where, **sdk)
    except Exception as err:  # auth, quota, network: the message says which
        raise CommandFailed(
            f"could not create {release.repo_id} ({describe(err)}); nothing was uploaded: "
            "check the token's write access, then run the same command again"
        ) from err
    # Fewer than 256 files and 100 MB of non-LFS content: huggingface_hub makes this one commit.
    try:
        commit = api.upload_folder(
            repo_id=release.repo_id,
            folder_path=str(release.folder),
            commit_message=release.commit_message,
            commit_description=release.commit_description,
            delete_patterns=DELETE_STALE,
            **where,
        )
    except Exception as err:  # network, auth, quota, server: all end the same way for the user
        raise CommandFailed(
            f"upload to {release.repo_id} failed ({describe(err)}); the release is one commit, so "
            "the repo has all of it or none of it: run the same command again"
        ) from err
    done = [
        f"created {_visibility(release.private)} {release.repo_type} repo {release.repo_id}"
        if new
        else f"updated {release.repo_id}; it stays {_visibility(plan.private)}",
        f"commit:      {commit.commit_url}",
    ]
    if plan.tag_commit and plan.tag_commit != commit.oid:
        # create_tag(exist_ok=True) leaves an existing tag where it is, so say so instead of calling it.
        return [
            *done,
            f"tag:         {release.tag} stays on {plan.tag_commit[:7]} (an earlier upload); "
            "name this commit with --tag",
        ]
    try:
        api.create_tag(release.repo_id, tag=release.tag, revision=commit.oid, exist_ok=True, **where)
    except Exception as err:
        raise CommandFailed(
            f"uploaded {commit.commit_url} but could not tag it {release.tag} ({describe(err)}); "
            "run the same command again: an unchanged upload adds no commit"
        ) from err
    return [*done, f"tag:         {release.tag}"]


def publish(api: Any, release: Release, dry_run: bool) -> Plan:
    """Print the plan; unless dry_run, upload and print what happened."""
    plan = plan_upload(api, release, dry_run)
    print(format_plan(plan, dry_run), flush=True)
    if not dry_run:
        print("\n".join(upload(api, plan)))
    return plan


def hub_api(dry_run: bool) -> Any:
    """The real client; an upload needs the Hub and a token (a dry run asks what it can without)."""
    from huggingface_hub import HfApi, constants

    if not dry_run:
        if constants.HF_HUB_OFFLINE:
            raise InputError("HF_HUB_OFFLINE is set: an upload needs the Hub; unset it, or use --dry-run or --hub-dir")
        if not hf_token():
            raise InputError("no Hugging Face token: run `hf auth login` or set HF_TOKEN")
    return HfApi()


def publish_run(
    api: Any,
    run_dir: Path,
    repo_id: str,
    results_dir: Path | None,
    private: bool = False,
    tag: str | None = None,
    dry_run: bool = False,
) -> Plan:
    """Check the base, stage the release in a temporary folder, print the plan, upload unless dry_run."""
    base = base_on_hub(run_dir)
    if base is None:
        checks = ["base model:  none (trained from random weights)"]
    else:
        try:
            check_base_exists(api, base)
            checks = [f"base model:  {base} (on the Hub)"]
        except HubUnreachable as err:
            if not dry_run:
                raise
            checks = [f"base model:  {base} (not checked: {err})"]
    with tempfile.TemporaryDirectory(prefix="panx-release-") as tmp:
        folder = Path(tmp)
        stage_release(run_dir, folder, repo_id, results_dir)
        message, description = commit_text(folder, base)
        release = Release(
            folder, repo_id, MODEL, message, description, tag or run_tag(folder), private, checks=tuple(checks)
        )
        return publish(api, release, dry_run)


def results_or_default(results_dir: str | None) -> Path | None:
    """The study results the card draws on where they measured this run (default: results/)."""
    if results_dir is not None:
        return Path(results_dir)
    return RESULTS_DIR if RESULTS_DIR.is_dir() else None


def main(argv: list[str] | None = None, api: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a finished run directory from python -m training.train")
    parser.add_argument("--repo-id", required=True, help="NAMESPACE/NAME on the Hub")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--hub-dir", type=Path, default=None, help="write the release to DIR/NAMESPACE/NAME instead of uploading"
    )
    where.add_argument("--dry-run", action="store_true", help="print the upload plan and upload nothing")
    parser.add_argument("--private", action="store_true", help="make the repo private if this upload creates it")
    parser.add_argument("--tag", default=None, help="the release's tag (default: run-<run_info.json created_at>)")
    parser.add_argument(
        "--results-dir", default=None, help=f"study results for the card (default: {RESULTS_DIR.name}/)"
    )
    args = parser.parse_args(argv)
    repo_id = check_repo_id(args.repo_id)
    tag = check_tag(args.tag) if args.tag else None
    results_dir = results_or_default(args.results_dir)
    rd.check_finished(args.run_dir)
    if args.hub_dir:
        if args.private or tag:
            raise InputError("--private and --tag are for a Hub upload, not --hub-dir")
        target = publish_to_mirror(args.run_dir, repo_id, args.hub_dir, results_dir)
        files = sorted(p for p in target.rglob("*") if p.is_file())
        print(f"wrote {target}: {len(files)} files, {sum(p.stat().st_size for p in files):,} bytes")
        return 0
    publish_run(api or hub_api(args.dry_run), args.run_dir, repo_id, results_dir, args.private, tag, args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
