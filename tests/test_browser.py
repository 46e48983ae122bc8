"""The Space in headless Chromium: run an example, see highlighted entities in every model column."""

from __future__ import annotations

import shutil
import socket

import pytest
import torch

from space.examples import load_examples
from space.screenshot import CHROMEDRIVER, CHROMIUM, chromium_driver, highlighted, run_example, set_text, wait_for

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: apt-get install chromium chromium-driver"
)


@pytest.fixture(scope="module")
def served(smoke_run_dir, tmp_path_factory):
    from space.app import build_demo, launch

    assert CHROMEDRIVER.exists(), f"{CHROMIUM} is installed but {CHROMEDRIVER} is not: apt-get install chromium-driver"
    models = tmp_path_factory.mktemp("models")
    for key in ("de", "fr", "all"):
        shutil.copytree(smoke_run_dir, models / key)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    threads = torch.get_num_threads()
    demo = build_demo(models_dir=models)
    _, address, _ = launch(demo, server_port=port, prevent_thread_lock=True, quiet=True)
    yield demo, address
    demo.close()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def url(served):
    return served[1]


@pytest.fixture(scope="module")
def driver():
    d = chromium_driver(1400, 1000)
    yield d
    d.quit()


def test_example_shows_entities_in_each_model_column(driver, served):
    from selenium.webdriver.common.by import By

    demo, url = served
    # The smoke model is poor: run the first French PAN-X example in which it finds something.
    examples = load_examples()["fr"]
    tagger = demo.registry.get("fr")
    index = next(i for i, e in enumerate(examples) if e.gold and tagger(e.text)["entities"])

    shown = run_example(driver, url, language="fr", example=index)
    assert shown == ["de", "fr", "all"]  # the French defaults, in registry order
    for key in shown:
        assert highlighted(driver, key), f"no highlighted entity in the {key} column"
    assert highlighted(driver, "gold")  # a PAN-X example brings its gold column
    labels = {k: driver.find_element(By.CSS_SELECTOR, f"#hl-{k} label").text for k in shown}
    assert "zero-shot on French" in labels["de"] and "✓ trained on French" in labels["fr"]
    assert "agree on" in driver.find_element(By.ID, "agreement").text
    assert driver.find_elements(By.CSS_SELECTOR, "#table tbody tr")


def test_html_in_the_text_is_shown_not_rendered(driver, url):
    from selenium.webdriver.common.by import By

    text = "<b>Angela Merkel</b> besucht 🙂 Paris und القاهرة ."
    set_text(driver, text)
    driver.find_element(By.ID, "run").click()
    def new_column(d):
        return [e for e in d.find_elements(By.ID, "hl-de") if "Angela" in e.text]

    column = wait_for(driver, new_column, 60, "the new text")[0]
    shown = "".join(e.get_attribute("textContent") for e in column.find_elements(By.CSS_SELECTOR, ".token .text"))
    assert shown == text  # tags, emoji and Arabic shown as typed, spans cut at the right places
    assert not column.find_elements(By.CSS_SELECTOR, ".textfield b")  # the <b> is text, not markup


def test_empty_text_shows_a_message(driver, url):
    from selenium.webdriver.common.by import By

    set_text(driver, "")
    driver.find_element(By.ID, "run").click()
    def empty_notice(d):
        return [e for e in d.find_elements(By.ID, "notice") if "empty" in e.text]

    notice = wait_for(driver, empty_notice, 30, "the notice")[0]
    assert "type a sentence" in notice.text
