"""The Space in headless Chromium: the first view shows the first example's result; run an example, see
highlighted entities in every model column and in auto's; three models make three columns whose status
lines align; user HTML shown as text everywhere; the model cards' plots load, their titles uncovered."""

from __future__ import annotations

import shutil
import socket

import pytest
import torch

import space.registry as registry_module
from core.facts import RESULTS_DIR
from core.results import PLOTS
from space.examples import load_examples
from workflow.screenshot import (
    CHROMEDRIVER,
    CHROMIUM,
    chromium_driver,
    columns_done,
    highlighted,
    run_example,
    set_text,
    wait_for,
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: apt-get install chromium chromium-driver"
)


def whole_text_is_a_person(text):
    """The "it" model of this test: one PER span over the whole text, markup included."""
    return {
        "text": text,
        "entities": [{"entity_group": "PER", "word": text, "start": 0, "end": len(text), "score": 0.9}],
    }


@pytest.fixture(scope="module")
def served(smoke_run_dir, tmp_path_factory):
    from space.app import build_demo, launch

    assert CHROMEDRIVER.exists(), f"{CHROMIUM} is installed but {CHROMEDRIVER} is not: apt-get install chromium-driver"
    models = tmp_path_factory.mktemp("models")
    for key in ("de", "fr", "it", "all"):
        shutil.copytree(smoke_run_dir, models / key)
    plot_links = "".join(f"![{caption}](plots/{rel.split('/')[-1]})\n\n" for rel, caption in PLOTS.items())
    (models / "de" / "README.md").write_text(f"---\nlicense: mit\n---\n\n# The de card\n\n{plot_links}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    threads = torch.get_num_threads()
    real_load = registry_module.load_tagger
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            registry_module,
            "load_tagger",
            lambda folder, backend: whole_text_is_a_person if folder.name == "it" else real_load(folder, backend),
        )
        demo = build_demo(models_dir=models, results_dir=RESULTS_DIR)
        _, address, _ = launch(demo, server_port=port, prevent_thread_lock=True, quiet=True)
        yield demo, address
    demo.close()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def url(served):
    return served[1]


@pytest.fixture(scope="module")
def driver():
    with chromium_driver(1400, 1000) as d:
        yield d


def shown_text(driver, column: str) -> str:
    from selenium.webdriver.common.by import By

    return "".join(
        e.get_attribute("textContent") for e in driver.find_elements(By.CSS_SELECTOR, f"#hl-{column} .token .text")
    )


def test_the_first_view_shows_the_first_examples_result(driver, url):
    driver.get(url)  # no click: the page's load runs the models on the example in the text box
    shown = wait_for(driver, lambda d: columns_done(d, gold=False), 90, "the first view's results")
    assert shown == ["de", "all", "auto"]  # the German defaults and auto
    first = load_examples()["de"][0].text
    for key in shown:
        assert shown_text(driver, key) == first, key


def test_three_models_make_three_result_columns_with_aligned_status_lines(driver, url):
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait_for(driver, lambda d: columns_done(d, gold=False), 90, "the first view's results")
    wanted = ["de", "it", "all"]
    for box in driver.find_elements(By.CSS_SELECTOR, "#models input[type='checkbox']"):
        if (box.get_attribute("name") in wanted) != box.is_selected():  # ticked in a burst: one run more, not four
            driver.execute_script("arguments[0].click();", box)
    done = wait_for(
        driver,
        lambda d: columns_done(d, gold=False) == wanted and all(highlighted(d, k) for k in ["it"]),
        90,
        "the three columns",
    )
    assert done
    first = load_examples()["de"][0].text
    statuses = [driver.find_element(By.ID, f"status-{key}") for key in wanted]
    for key, status in zip(wanted, statuses):
        assert shown_text(driver, key) == first and "entit" in status.text, key  # its own spans and status, not a box
    assert len({round(s.rect["y"]) for s in statuses}) == 1  # the status lines start at one height
    assert highlighted(driver, "it") == [first]  # this test's "it" model: the whole text is one person


def test_example_shows_entities_in_each_model_column(driver, served):
    from selenium.webdriver.common.by import By

    demo, url = served
    # The smoke model is poor: run the first French PAN-X example in which it finds something.
    examples = load_examples()["fr"]
    tagger = demo.registry.get("fr")
    index = next(i for i, e in enumerate(examples) if e.gold and tagger(e.text)["entities"])

    shown = run_example(driver, url, language="fr", example=index)
    assert shown == ["de", "fr", "all", "auto"]  # the French defaults in registry order, then auto
    for key in shown:
        assert highlighted(driver, key), f"no highlighted entity in the {key} column"
    assert highlighted(driver, "gold")  # a PAN-X example brings its gold column
    labels = {k: driver.find_element(By.CSS_SELECTOR, f"#hl-{k} label").text for k in shown}
    assert "zero-shot on French" in labels["de"] and "✓ trained on French" in labels["fr"]
    # The study ranks de-fr first for French; it is not bundled here, so auto hands over to the next best.
    assert labels["auto"].startswith("auto → all · French detected (p = ")
    assert "answered by all" in driver.find_element(By.ID, "status-auto").text
    assert "agree on" in driver.find_element(By.ID, "agreement").text
    assert driver.find_elements(By.CSS_SELECTOR, "#table tbody tr")


def test_html_in_the_text_is_shown_not_rendered(driver, url):
    from selenium.webdriver.common.by import By

    text = "<b>Angela Merkel</b> besucht <img src=x onerror=\"document.title='pwned'\"> 🙂 Paris und القاهرة ."
    radio = driver.find_element(By.CSS_SELECTOR, "#language input[value='it']")
    driver.execute_script("arguments[0].click();", radio)  # Italian: its defaults include "it", which tags everything
    wait_for(driver, lambda d: [e for e in d.find_elements(By.ID, "hl-it") if e.is_displayed()], 60, "the it column")
    set_text(driver, text)
    driver.find_element(By.ID, "run").click()

    def new_column(d):
        return [e for e in d.find_elements(By.ID, "hl-it") if "Angela" in e.text]

    column = wait_for(driver, new_column, 90, "the new text")[0]
    shown = "".join(e.get_attribute("textContent") for e in column.find_elements(By.CSS_SELECTOR, ".token .text"))
    assert shown == text  # tags, emoji and Arabic shown as typed
    assert not column.find_elements(By.CSS_SELECTOR, ".textfield b, .textfield img")
    table = driver.find_element(By.ID, "table")
    wait_for(driver, lambda d: "<b>Angela" in table.text, 30, "the table")
    assert not table.find_elements(By.CSS_SELECTOR, "tbody b, tbody img")
    agreement = driver.find_element(By.ID, "agreement")
    assert "<b>Angela" in agreement.text and not agreement.find_elements(By.CSS_SELECTOR, "img")
    assert driver.title != "pwned"


def test_empty_text_shows_a_message(driver, url):
    from selenium.webdriver.common.by import By

    set_text(driver, "")
    driver.find_element(By.ID, "run").click()

    def empty_notice(d):
        return [e for e in d.find_elements(By.ID, "notice") if "empty" in e.text]

    notice = wait_for(driver, empty_notice, 30, "the notice")[0]
    assert "type a sentence" in notice.text


def test_the_cards_plots_load(driver, url):
    from selenium.webdriver.common.by import By

    driver.get(url)
    tab = wait_for(
        driver,
        lambda d: [
            b for b in d.find_elements(By.CSS_SELECTOR, "button[role='tab']") if "Why the models differ" in b.text
        ],
        60,
        "the results tab",
    )[0]
    tab.click()
    card = wait_for(
        driver,
        lambda d: [
            e
            for e in d.find_elements(By.CSS_SELECTOR, "button, .label-wrap, span")
            if e.text.startswith("de (German)") and e.is_displayed()
        ],
        30,
        "the de card",
    )[0]
    card.click()

    def card_images(d):
        images = d.execute_script(
            "return [...document.querySelectorAll('img')].filter(i => i.src.includes('gradio_api/file=') "
            "&& i.closest('.prose')).map(i => [i.src, i.complete, i.naturalWidth])"
        )
        return images if len(images) == len(PLOTS) and all(done and width > 0 for _, done, width in images) else None

    images = wait_for(driver, card_images, 30, "the card's plots")
    assert all("/plots/" not in src for src, _, _ in images)
    # The study's plots come with their captions above them, not in label chips over the plots' titles.
    captions = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".plot-caption") if e.is_displayed()]
    assert list(dict.fromkeys(captions)) == list(PLOTS.values())  # gradio puts the class on the block and its text
    assert not [
        e
        for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='image'] [data-testid='block-label']")
        if e.is_displayed()
    ]


def test_the_browser_leaves_no_profile_behind(tmp_path, monkeypatch):
    """Each driver has a fresh profile folder, removed when it quits (they piled up in /tmp before)."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with chromium_driver(400, 300) as d:
        d.get("about:blank")
        assert len(list(tmp_path.glob("chromium-profile-*"))) == 1
    assert not list(tmp_path.glob("chromium-profile-*"))
