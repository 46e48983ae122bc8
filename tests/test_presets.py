"""Presets: how a small training set's epochs are repeated up to the minimum of optimizer steps, what the
study's lock records of it, and the training-set sizes the study reads without loading any data."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.facts import EXPERIMENTS, PANX_TRAIN_ROWS
from training.data import train_rows
from training.presets import get_preset

E5 = get_preset("e5")


def test_train_rows_are_the_swiss_shares_read_from_parquet_metadata(data_dir):
    sizes = {exp: train_rows(exp, data_dir) for exp in EXPERIMENTS}
    assert sizes == {"de": 12580, "de-fr": 17160, "fr": 4580, "it": 1680, "en": 1180, "all": 20020}
    assert train_rows("fr", data_dir, max_train_samples=250) == 250
    assert train_rows("en", data_dir, max_train_samples=5000) == 1180
    assert train_rows("all", None) == sizes["all"]  # from the Hub: PAN-X's own 20,000 per language
    assert PANX_TRAIN_ROWS == 20_000


@pytest.mark.parametrize(
    "rows, repeats",
    [
        (12580, 1),
        (17160, 1),
        (20020, 1),
        (4580, 1),
        (4000, 1),  # 5 epochs are at least the minimum
        (1680, 3),
        (1180, 4),
        (2000, 2),
        (1000, 4),
        (500, 8),
        (250, 15),
    ],
)
def test_small_training_sets_repeat_their_epochs_to_the_minimum(rows, repeats):
    assert E5.epoch_repeats(rows) == repeats
    stretched = E5.for_train_rows(rows)
    assert stretched.num_epochs == E5.num_epochs * repeats
    assert E5.steps_per_epoch(rows) * stretched.num_epochs >= E5.min_train_steps
    # one repeat fewer would not reach the minimum: repeats are the fewest that do
    assert repeats == 1 or E5.steps_per_epoch(rows) * E5.num_epochs * (repeats - 1) < E5.min_train_steps


def test_processes_share_the_steps():
    assert E5.steps_per_epoch(1180, processes=2) == 25 and E5.epoch_repeats(1180, processes=2) == 7


def test_the_lock_records_the_epochs_a_run_trains_not_the_minimum():
    """A run the minimum does not stretch keeps the recipe it had before the minimum existed, so the
    study does not retrain it; a stretched run records its epochs."""
    unstretched = replace(E5, min_train_steps=None).recipe()
    assert E5.recipe(12580) == unstretched and "min_train_steps" not in unstretched
    assert E5.recipe(1180) == {**unstretched, "num_epochs": 20}
    assert E5.recipe()["min_train_steps"] == E5.min_train_steps  # without a size: the preset as written


def test_no_minimum_means_the_preset_epochs_whatever_the_size():
    book = get_preset("book")
    assert book.min_train_steps is None and book.epoch_repeats(10) == 1 and book.for_train_rows(10) == book
    assert replace(E5, min_train_steps=0).epoch_repeats(10) == 1  # --min-train-steps 0: off
