"""The paths users walk, walked as they walk them: the README's commands in subprocesses with a user's
environment (no HF_HUB_OFFLINE, a Hub that cannot be reached and counts every attempt, a Hugging Face
cache holding only the built base), on the real bundled models.

- a maintainer publishes each bundled model (--dry-run, --hub-dir); a developer loads the release
  with plain transformers, peft not even installed, and gets what the bundled folder tags;
- a user trains a run of their own, renders its card and publishes it with default options;
- a reader runs each card's snippets and gets the entities they promise.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from user_env import user_env

from core import run_dir as rd
from core.facts import BUNDLED_MODELS_DIR, EXPERIMENTS, OFFLINE_BASE_ID, REPO_ROOT
from workflow.pipeline_check import cuts_letters, trimmed

NAMESPACE = "someone"
PLANNED = "all"  # the bundled model whose release is also planned with --dry-run
SENTENCES_CHECKED = 40  # 10 a language: the merge is exact, a difference shows on the first sentences
# A process in which `import peft` fails, as on a machine that never installed it.
WITHOUT_PEFT = "import sys; sys.modules['peft'] = None\n"
TAG_FOLDERS = (
    WITHOUT_PEFT
    + """
import json
from transformers import pipeline
folders, sentences = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {}
for key, folder in folders.items():
    ner = pipeline("token-classification", model=folder, aggregation_strategy="simple")
    out[key] = [[[e["entity_group"], e["start"], e["end"]] for e in ner(s)] for s in sentences]
print(json.dumps(out))
"""
)


def command(hub, hf_home: Path, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    """`python ARGS` from the repository root, as a user's shell runs it (with env's variables set)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=user_env(hub, hf_home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def local_requests(hub, since: int) -> list[str]:
    """Hub requests since `since` that ask about something this machine has: the offline base."""
    return [r for r in hub.requests[since:] if OFFLINE_BASE_ID in r]


def validation_sentences(data_dir: Path, n: int) -> list[str]:
    import pyarrow.parquet as pq

    sentences = []
    for lang in ("de", "fr", "it", "en"):
        table = pq.read_table(data_dir / f"PAN-X.{lang}" / "validation.parquet", columns=["tokens"])
        sentences += [" ".join(tokens) for tokens in table.column("tokens").to_pylist()[: n // 4]]
    return sentences


@pytest.fixture(scope="module")
def releases(tmp_path_factory, unreachable_hub, user_hf_home):
    """Every bundled folder published as the README says, into a mirror (--hub-dir) and as a plan
    (--dry-run), two at a time; returns (mirror folder per model, the plans' output)."""
    hub_dir = tmp_path_factory.mktemp("hub")
    asked = len(unreachable_hub.requests)

    def publish(key_and_mode):
        key, mode = key_and_mode
        where = ["--hub-dir", str(hub_dir)] if mode == "mirror" else ["--dry-run"]
        return (
            key,
            mode,
            command(
                unreachable_hub,
                user_hf_home,
                "-m",
                "workflow.publish",
                f"space/models/{key}",
                "--repo-id",
                f"{NAMESPACE}/{key}",
                *where,
            ),
        )

    # Every model as a mirror; the plan of one (its format is test_publish's, per model it only names the repo).
    jobs = [(key, "mirror") for key in EXPERIMENTS] + [(PLANNED, "plan")]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(publish, jobs))
    for key, mode, result in done:
        assert result.returncode == 0, f"{mode} of {key}: {result.stderr[-2000:]}"
    assert local_requests(unreachable_hub, asked) == []
    plans = {key: result.stdout for key, mode, result in done if mode == "plan"}
    return {key: hub_dir / NAMESPACE / key for key in EXPERIMENTS}, plans


@pytest.fixture(scope="module")
def bundled():
    """Each bundled folder as this project loads it (the adapter merged here, with peft): key -> (tokenizer, model)."""
    from core.loading import load_token_classifier

    return {key: load_token_classifier(BUNDLED_MODELS_DIR / key) for key in EXPERIMENTS}


def bundled_pipeline(bundled, key: str, **kwargs):
    from transformers import pipeline

    tokenizer, model = bundled[key]
    return pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple", **kwargs)


def test_every_bundled_model_publishes_without_asking_the_hub_for_local_things(releases):
    mirrors, plans = releases
    for key, mirror in mirrors.items():
        files = {p.relative_to(mirror).as_posix() for p in mirror.rglob("*") if p.is_file()}
        assert {*rd.FULL_MODEL_FILES, *rd.LOG_FILES, rd.CARD, rd.MERGED_FROM} <= files, key
        assert not {*rd.ADAPTER_FILES} & files  # merged: no peft needed
    plan = plans[PLANNED]
    assert plan.startswith("dry run: nothing is uploaded")
    assert f"repo:        model {NAMESPACE}/{PLANNED}" in plan
    assert "model.safetensors" in plan and rd.CARD in plan


def test_each_release_card_parses_and_names_its_own_model(releases):
    mirrors, _ = releases
    for key, mirror in mirrors.items():
        card = ModelCard.load(mirror / rd.CARD)
        assert f"{NAMESPACE}/{key}" in card.text
        scores = rd.read_json(mirror, rd.EVAL_RESULTS)["languages"]
        reported = {
            r.dataset_config.split(".")[-1]: r.metric_value for r in card.data.eval_results if r.metric_type == "f1"
        }
        assert reported == pytest.approx({lang: s["f1"] for lang, s in scores.items()}, abs=5e-5), key


def test_released_models_load_without_peft_and_tag_as_the_bundled_folders(
    releases, bundled, unreachable_hub, user_hf_home, data_dir
):
    mirrors, _ = releases
    sentences = validation_sentences(data_dir, SENTENCES_CHECKED)
    asked = len(unreachable_hub.requests)
    done = command(
        unreachable_hub,
        user_hf_home,
        "-c",
        TAG_FOLDERS,
        json.dumps({key: str(folder) for key, folder in mirrors.items()}),
        json.dumps(sentences),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert unreachable_hub.requests[asked:] == []
    released = json.loads(done.stdout.strip().splitlines()[-1])
    for key in EXPERIMENTS:
        ner = bundled_pipeline(bundled, key)
        assert released[key] == [[[e["entity_group"], e["start"], e["end"]] for e in ner(s)] for s in sentences], key


def test_a_users_own_run_renders_and_publishes_with_default_options(
    smoke_run_dir, tmp_path, unreachable_hub, user_hf_home
):
    """The README's path for a run of one's own (conftest's smoke_run_dir is `python -m training.train
    --experiment de --preset smoke` run as a user runs it): its card, then its release, default options."""
    run_dir = tmp_path / "runs" / "mine"
    shutil.copytree(smoke_run_dir, run_dir)
    asked = len(unreachable_hub.requests)
    rendered = command(unreachable_hub, user_hf_home, "-m", "cards.render", str(run_dir))
    assert rendered.returncode == 0, rendered.stderr
    card = (run_dir / rd.CARD).read_text(encoding="utf-8")
    assert "is not part of panx-ner's study" in card
    hub_dir = tmp_path / "hub"
    for where in (["--dry-run"], ["--hub-dir", str(hub_dir)]):
        done = command(
            unreachable_hub,
            user_hf_home,
            "-m",
            "workflow.publish",
            str(run_dir),
            "--repo-id",
            f"{NAMESPACE}/mine",
            *where,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    release = hub_dir / NAMESPACE / "mine"
    assert ModelCard.load(release / rd.CARD).text.count(f"{NAMESPACE}/mine") >= 1
    assert "is not part of panx-ner's study" in (release / rd.CARD).read_text(encoding="utf-8")
    assert local_requests(unreachable_hub, asked) == []


def test_a_bundled_folder_loads_with_the_plain_pipeline_offline_as_the_readme_says(unreachable_hub, user_hf_home):
    """README: a bundled (adapter) folder through `pipeline()`, without network, with HF_HUB_OFFLINE=1.
    Without it transformers asks the Hub about files the base lacks, retrying for minutes."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert 'model="space/models/all"' in readme and "HF_HUB_OFFLINE=1" in readme
    code = (
        "from transformers import pipeline\n"
        "ner = pipeline('token-classification', model='space/models/all', aggregation_strategy='simple')\n"
        "print([e['word'] for e in ner('Jeff Dean ist ein Informatiker bei Google in Kalifornien.')])\n"
    )
    asked = len(unreachable_hub.requests)
    done = command(unreachable_hub, user_hf_home, "-c", code, timeout=300, HF_HUB_OFFLINE="1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "['Jeff Dean', 'Google', 'Kalifornien']"
    assert unreachable_hub.requests[asked:] == []


def python_snippets(card: str) -> list[str]:
    return [block for block in re.findall(r"```python\n(.*?)```", card, re.DOTALL) if "pipeline(" in block]


ENTITY_LINE = re.compile(r"^(PER|ORG|LOC): (.+) \((0\.\d\d|1\.00)\)$")


# Runs each snippet as a reader pastes it, one after the other in one process, its output between markers.
RUN_SNIPPETS = (
    WITHOUT_PEFT
    + """
import json
for i, code in enumerate(json.loads(sys.argv[1])):
    print(f"=== snippet {i}", flush=True)
    exec(code, {"__name__": "__main__"})
"""
)


def test_each_cards_snippets_print_the_entities_the_model_finds(releases, bundled, unreachable_hub, user_hf_home):
    """A reader pastes the card's code (the repo id pointing at the release) and gets, line by line,
    the entities the bundled model finds in that text."""
    mirrors, _ = releases
    snippets = {}  # (key, code as on the card) -> the code run, loading the release
    for key, mirror in mirrors.items():
        card_snippets = python_snippets((mirror / rd.CARD).read_text(encoding="utf-8"))
        assert len(card_snippets) >= 2, f"{key}: a sentence and a long text"
        for code in card_snippets:
            runnable = code.replace(f'"{NAMESPACE}/{key}"', json.dumps(str(mirror)))
            assert runnable != code, f"{key}: the snippet does not load {NAMESPACE}/{key}"
            snippets[key, code] = runnable
    asked = len(unreachable_hub.requests)
    done = command(unreachable_hub, user_hf_home, "-c", RUN_SNIPPETS, json.dumps(list(snippets.values())))
    assert done.returncode == 0, done.stderr[-2000:]
    assert unreachable_hub.requests[asked:] == []
    outputs = re.split(r"^=== snippet \d+\n", done.stdout, flags=re.MULTILINE)[1:]
    assert len(outputs) == len(snippets)
    for ((key, code), runnable), output in zip(snippets.items(), outputs, strict=True):
        printed = [line for line in output.splitlines() if ENTITY_LINE.match(line)]
        names = [ENTITY_LINE.match(line)[1] + ": " + ENTITY_LINE.match(line)[2] for line in printed]  # no scores
        stride = re.search(r"stride=(\d+)", code)
        ner = bundled_pipeline(bundled, key, **({"stride": int(stride.group(1))} if stride else {}))
        text = _text_of(runnable)
        found = ner(text)
        expected = [f"{e['entity_group']}: {text[e['start'] : e['end']]} ({e['score']:.2f})" for e in found]
        if stride:  # the long text: the card prints the entities of its last copy of the paragraph
            paragraph = _paragraph_of(runnable)
            last = text.rindex(paragraph)
            expected = [line for e, line in zip(found, expected, strict=True) if e["start"] >= last]
            assert output.splitlines()[0] == "True", f"{key}: the long text fits one window"
            # the paragraph's language: the one whose names it holds
            language = next(
                lang for lang, want in LONG_TEXT_ENTITIES.items() if all(n.split(": ", 1)[1] in paragraph for n in want)
            )
            missing = [name for name in LONG_TEXT_ENTITIES[language] if name not in names]
            assert not missing, f"{key}: the card's long text misses {missing} (printed {names})"
            cut = [
                text[e["start"] : e["end"]]
                for e in found
                if e["start"] >= last and cuts_letters(text, *trimmed(text, e["start"], e["end"]))
            ]
            want = LONG_TEXT_PIECES.get(key, [])
            assert cut == want, f"{key}: the card's long text prints pieces of words {cut}, not {want}"
        elif key in ("de", "all"):  # the German sentence, read by models that learnt German
            assert names == [
                "PER: Jeff Dean",
                "ORG: Google",
                "LOC: Kalifornien",
            ], key
        assert printed and printed == expected, f"{key}: {printed} != {expected}"


# The pieces of words a bundled model prints in its card's long text, which the card warns of: pinned, so
# that a new piece fails here and a mended one asks to be taken off. The it model reads "stadio" in its 12th
# copy as "stadi" (LOC, 0.40) and "o" (O); one sentence alone, it keeps the word whole.
LONG_TEXT_PIECES = {"it": ["stadi"]}

# The names in each card's long text (cards/templates/partials/long_texts.md.j2) whose type is not in doubt:
# the card must print every one of them, whole. Left out: a competition, a stadium, a national team, "Bayern"
# (state or club).
LONG_TEXT_ENTITIES = {
    "de": [
        "ORG: FC Bayern München",
        "LOC: Lissabon",
        "ORG: Paris Saint-Germain",
        "PER: Kingsley Coman",
        "PER: Joshua Kimmich",
        "PER: Hansi Flick",
    ],
    "fr": [
        "LOC: Moscou",
        "LOC: Croatie",
        "PER: Antoine Griezmann",
        "PER: Paul Pogba",
        "PER: Kylian Mbappé",
        "PER: Didier Deschamps",
        "PER: Mário Zagallo",
        "PER: Franz Beckenbauer",
    ],
    "it": [
        "LOC: Londra",
        "PER: Gianluigi Donnarumma",
        "PER: Jadon Sancho",
        "PER: Bukayo Saka",
        "PER: Roberto Mancini",
        "LOC: Roma",
    ],
    "en": [
        "LOC: Kourou",
        "LOC: French Guiana",
        "ORG: NASA",
        "ORG: European Space Agency",
        "ORG: Canadian Space Agency",
        "LOC: Baltimore",
        "ORG: Space Telescope Science Institute",
        "PER: James E. Webb",
    ],
}


def _text_of(code: str) -> str:
    """The `text` a snippet tags, evaluated as the snippet defines it (it is built from literals)."""
    scope: dict = {}
    exec("\n".join(line for line in code.splitlines() if re.match(r"^(text|sentence|paragraph)\s*=", line)), scope)
    return scope["text"]


def _paragraph_of(code: str) -> str:
    scope: dict = {}
    exec("\n".join(line for line in code.splitlines() if re.match(r"^paragraph\s*=", line)), scope)
    return scope["paragraph"]
