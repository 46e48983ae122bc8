"""PAN-X sentences as running text (training.running_text), their labels by character offsets
(training.features), and the recipe's switches (training.presets, training.train)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.facts import LABEL2ID
from training.features import IGNORE_INDEX, align_by_offsets
from training.running_text import join_passages, pack_groups, pack_sentences, running_text, sentence_passage

OUT, B_PER, I_PER, B_ORG, B_LOC, I_LOC = (LABEL2ID[t] for t in ("O", "B-PER", "I-PER", "B-ORG", "B-LOC", "I-LOC"))

# Real PAN-X rows (validation and train), as PAN-X splits them, and as print writes them.
REAL_ROWS = {
    "de": [
        ("Osjorsk ( Kaliningrad )", "Osjorsk (Kaliningrad)"),
        (
            "der Internationale Verband für Wohnungswesen , Städtebau und Raumordnung ( IVWSR ) .",
            "der Internationale Verband für Wohnungswesen, Städtebau und Raumordnung (IVWSR).",
        ),
        ("Dort studierte er erst am Queen 's College .", "Dort studierte er erst am Queen's College."),
        (
            "In severischer Zeit trat die „ Periode 5 “ an die Stelle der „ Periode 4 “ .",
            "In severischer Zeit trat die „Periode 5“ an die Stelle der „Periode 4“.",
        ),
        ("Etwa 87 % der Bevölkerung", "Etwa 87 % der Bevölkerung"),  # Duden: a space before %
        ("Zur Saison 2013 / 14 ging er zum Hallescher FC .", "Zur Saison 2013/14 ging er zum Hallescher FC."),
        ("' '' Ozark Henry '' '", "'''Ozark Henry'''"),  # the wiki's bold markup, as PAN-X splits it
    ],
    "fr": [
        ("Omaha ( Nebraska ) , États-Unis", "Omaha (Nebraska), États-Unis"),
        ("appartenant à la « Génération perdue »", "appartenant à la « Génération perdue »"),
        ("Michèle Cotta : Spéciale Européennes 2014", "Michèle Cotta : Spéciale Européennes 2014"),
        ("Avec le Club Nacional , il remporte un championnat d'Uruguay .", None),
        ("Il a joué pour l' Italie !", "Il a joué pour l'Italie !"),  # an elision written apart
    ],
    "it": [
        (
            "il personale non interviene ( l'episodio ricorda Dorando Pietri nella maratona del 1908 ) .",
            "il personale non interviene (l'episodio ricorda Dorando Pietri nella maratona del 1908).",
        ),
        ("Moldavia 7 ( 1,25 % )", "Moldavia 7 (1,25%)"),
        ("Galleria dell' Accademia", "Galleria dell'Accademia"),
    ],
    "en": [
        ("St. Mary 's Catholic Church ( Sandusky , Ohio )", "St. Mary's Catholic Church (Sandusky, Ohio)"),
        ("Shakira – `` Ojos Así ''", "Shakira – ``Ojos Así''"),
        ("Parliamentary elections : 44.1 % of the vote", "Parliamentary elections: 44.1% of the vote"),
        ("the Beatles ' songs", "the Beatles' songs"),
        ("If You Ai n't Got a Weapon", "If You Ain't Got a Weapon"),
        ("Zina Garrison-Jackson '' ( Third Round )", "Zina Garrison-Jackson'' (Third Round)"),
    ],
}


@pytest.mark.parametrize(
    ("lang", "split", "written"),
    [(lang, split, written) for lang, rows in REAL_ROWS.items() for split, written in rows],
)
def test_running_text_writes_pan_x_as_print_does(lang, split, written):
    tokens = split.split(" ")
    text, spans = running_text(tokens, lang)
    assert text == (written or text)
    assert [text[start:end] for start, end in spans] == tokens  # the round trip: every word where its span says
    assert text.replace(" ", "") == "".join(tokens)  # only spaces change


def test_a_language_without_rules_gets_the_common_ones():
    text, _ = running_text("Jeff Dean ( Google ) , 50 % .".split(), "xx")
    assert text == "Jeff Dean (Google), 50%."


def test_an_empty_sentence_is_empty_text():
    assert running_text([], "de") == ("", [])


def sentence(text: str, tags: list[int], lang: str = "de"):
    return sentence_passage(text.split(" "), tags, lang)


def test_sentences_join_with_their_spans_and_tags_shifted():
    first = sentence("Jeff Dean ( Google ) .", [B_PER, I_PER, OUT, B_ORG, OUT, OUT])
    second = sentence("Er lebt in Kalifornien .", [OUT, OUT, OUT, B_LOC, OUT])
    joined = join_passages([first, second])
    assert joined.text == "Jeff Dean (Google). Er lebt in Kalifornien."
    assert joined.tags == first.tags + second.tags and joined.lang == "de"
    words = "Jeff Dean ( Google ) . Er lebt in Kalifornien .".split(" ")
    assert [joined.text[s:e] for s, e in joined.word_spans] == words
    assert [joined.text[s:e] for s, e in joined.sentence_spans] == [first.text, second.text]


def test_packing_groups_consecutive_sentences_up_to_the_budget():
    assert pack_groups([3, 4, 2, 6, 1], 7) == [range(0, 2), range(2, 3), range(3, 5)]
    assert pack_groups([10, 2, 2], 5) == [range(0, 1), range(1, 3)]  # over the budget: alone
    assert pack_groups([], 5) == []
    passages = [sentence(f"Satz {i} .", [OUT, OUT, OUT]) for i in range(5)]
    packed = pack_sentences(passages, [3] * 5, 7)
    assert [p.text for p in packed] == ["Satz 0. Satz 1.", "Satz 2. Satz 3.", "Satz 4."]
    assert all(p.text[s:e] in ("Satz", ".") or p.text[s:e].isdigit() for p in packed for s, e in p.word_spans)


# "Jeff Dean (Google)." as SentencePiece splits it: <s> ▁Jeff ▁De an ▁( Google ). </s>
WORDS = [(0, 4), (5, 9), (10, 11), (11, 17), (17, 18), (18, 19)]  # Jeff Dean ( Google ) .
WORD_TAGS = [B_PER, I_PER, OUT, B_ORG, OUT, OUT]
PIECES = [(0, 0), (0, 4), (5, 7), (7, 9), (10, 11), (11, 17), (17, 19), (0, 0)]
SPECIAL = [1, 0, 0, 0, 0, 0, 0, 1]


def test_labels_follow_the_words_by_character_offsets():
    labels = align_by_offsets(PIECES, SPECIAL, WORDS, WORD_TAGS, label_all_subwords=True)
    # "an" continues Dean; ")." spans two words and takes the first one's O.
    assert labels == [IGNORE_INDEX, B_PER, I_PER, I_PER, OUT, B_ORG, OUT, IGNORE_INDEX]
    book = align_by_offsets(PIECES, SPECIAL, WORDS, WORD_TAGS, label_all_subwords=False)
    assert book == [IGNORE_INDEX, B_PER, I_PER, IGNORE_INDEX, OUT, B_ORG, OUT, IGNORE_INDEX]


def test_a_piece_between_words_belongs_to_the_entity_the_next_word_continues():
    # "New « York" with a lone "▁" before the mark, inside a LOC, and before the LOC's first word.
    words, tags = [(0, 3), (4, 5), (5, 9)], [B_LOC, I_LOC, I_LOC]
    pieces, special = [(0, 3), (3, 4), (4, 5), (5, 9)], [0, 0, 0, 0]
    assert align_by_offsets(pieces, special, words, tags, True) == [B_LOC, I_LOC, I_LOC, I_LOC]
    assert align_by_offsets(pieces, special, words, [OUT, B_LOC, I_LOC], True) == [OUT, OUT, B_LOC, I_LOC]
    assert align_by_offsets(pieces, special, words, tags, False)[1] == IGNORE_INDEX


def test_running_text_features_on_the_offline_base_tokenizer():
    """Real subwords: each word's first subword carries its tag; packing keeps every sentence's words."""
    from datasets import Dataset

    from core.facts import ID2LABEL, OFFLINE_BASE_ID
    from core.loading import base_tokenizer
    from training.features import encode_running

    tokenizer = base_tokenizer(OFFLINE_BASE_ID)
    rows = {
        "tokens": [s.split(" ") for s in ("Jeff Dean ( Google ) .", "Il vit à Paris .", "Anna lebt in Bern .")],
        "ner_tags": [WORD_TAGS, [OUT, OUT, OUT, B_LOC, OUT], [B_PER, OUT, OUT, B_LOC, OUT]],
        "lang": ["de", "fr", "de"],
    }
    single = encode_running(Dataset.from_dict(rows), tokenizer, 64, label_all_subwords=True)
    assert len(single) == 3
    first = single[0]
    pieces = tokenizer.convert_ids_to_tokens(first["input_ids"])
    assert pieces[0] == tokenizer.cls_token and first["labels"][0] == IGNORE_INDEX
    tagged = [(piece, ID2LABEL[label]) for piece, label in zip(pieces, first["labels"]) if label != IGNORE_INDEX]
    assert tagged[0] == ("▁Jeff", "B-PER") and ("Google", "B-ORG") in tagged
    packed = encode_running(Dataset.from_dict(rows), tokenizer, 64, True, pack_share=1.0, pack_length=64)
    assert len(packed) == 2  # the German sentences together, the French one alone
    starts = sorted(ID2LABEL[label] for row in packed for label in row["labels"] if label in (B_PER, B_ORG, B_LOC))
    assert starts == ["B-LOC", "B-LOC", "B-ORG", "B-PER", "B-PER"]
    spaced = encode_running(Dataset.from_dict(rows), tokenizer, 64, True, running=False, pack_share=1.0)
    assert "▁)" in tokenizer.convert_ids_to_tokens(spaced[0]["input_ids"])  # PAN-X's own spacing, packed
    alongside = encode_running(Dataset.from_dict(rows), tokenizer, 64, True, pack_share=1.0, alongside=True)
    assert len(alongside) == 5  # the three sentences one per example, and the two passages besides
    firsts = [tokenizer.convert_ids_to_tokens(row["input_ids"]) for row in alongside]
    assert "▁)" in firsts[0] and "▁)" not in firsts[3]  # the sentences in PAN-X's words, the passages as printed
    assert alongside[3]["input_ids"] == packed[0]["input_ids"]


def test_the_presets_recipes_stay_as_they_were():
    """New switches at their defaults leave Preset.recipe() (what the study's lock compares) unchanged: the
    presets that do not pack record none of them, so their runs stay current."""
    from training.presets import PRESETS, text_form

    switches = {"running_text", "pack_share", "pack_length", "pack_alongside"}
    assert switches <= set(PRESETS["e5"].recipe())  # the default preset packs alongside
    plain = replace(PRESETS["e5"], running_text=False, pack_share=0.0, pack_length=512, pack_alongside=False)
    for preset in (plain, *(p for p in PRESETS.values() if not p.pack_share)):
        assert not switches & set(preset.recipe()), preset.name
    assert replace(plain, running_text=True).recipe()["running_text"] is True
    assert replace(plain, pack_length=256).recipe() == plain.recipe()  # no packing: the length shapes nothing
    assert replace(plain, pack_share=0.5).recipe()["pack_length"] == 512
    assert text_form({"running_text": False, "pack_share": 0.0, "pack_length": 512}) == {}
    assert "pack_alongside" not in replace(plain, pack_alongside=True).recipe()  # nothing packed, nothing added
    assert replace(plain, pack_share=1.0, pack_alongside=True).recipe()["pack_alongside"] is True
    assert text_form({"pack_share": 1.0, "pack_length": 128, "pack_alongside": True})["pack_alongside"] is True


def test_a_run_on_running_text_is_not_the_presets_run():
    from core.run_dir import Hyperparameters
    from training.presets import PRESETS

    smoke = PRESETS["smoke"]
    hyper = {
        "preset": "smoke",
        "fine_tuning": "full",
        "learning_rate": smoke.learning_rate,
        "train_batch_size": 16,
        "eval_batch_size": 64,
        "seed": smoke.seed,
        "optimizer": "AdamW",
        "lr_scheduler_type": "linear",
        "warmup_ratio": 0.0,
        "num_epochs": smoke.num_epochs,
        "weight_decay": 0.0,
        "mixed_precision": "no",
        "max_seq_length": 256,
        "label_all_subwords": True,
        "lora_rank": None,
        "lora_alpha": None,
        "lora_dropout": None,
        "lora_target_modules": None,
        "init": "random",
    }
    assert smoke.made(Hyperparameters.from_json(hyper))
    running = Hyperparameters.from_json({**hyper, "running_text": True, "pack_share": 0.5, "pack_length": 512})
    assert not smoke.made(running)
    assert replace(smoke, running_text=True, pack_share=0.5).made(running)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--pack-share", "1.5"], "--pack-share must be between 0 and 1"),
        (["--pack-length", "600"], "--pack-length"),
        (["--pack-alongside"], "--pack-alongside adds packed passages: give --pack-share"),
        (["--unlabelled-text"], "--unlabelled-text is read by the word-consistency term alone"),
        (["--experiment", "all", "--word-consistency", "1", "--unlabelled-text"], "has labels in every language"),
    ],
)
def test_bad_text_flags_are_refused_in_one_line(flags, message, capsys, tmp_path):
    from training.train import cli

    assert cli(["--preset", "smoke", "--output-dir", str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_the_command_line_turns_the_recipe_on():
    from training.arguments import parse_arguments, resolved_preset

    args = parse_arguments(["--preset", "smoke", "--running-text", "--pack-share", "0.25", "--pack-length", "128"])
    preset = resolved_preset(args)
    assert (preset.running_text, preset.pack_share, preset.pack_length) == (True, 0.25, 128)
    assert "--running-text --pack-share 0.25 --pack-length 128" in args.command()
    assert not resolved_preset(parse_arguments(["--preset", "smoke"])).running_text
    both = parse_arguments(["--preset", "smoke", "--running-text", "--pack-share", "1", "--pack-alongside"])
    assert resolved_preset(both).pack_alongside and "--pack-alongside" in both.command()
