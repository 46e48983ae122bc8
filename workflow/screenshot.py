"""Headless Chromium for the Space: the browser test's driver and docs/screenshot.png.

    python -m workflow.screenshot       # serve the app, run a German PAN-X example, save docs/screenshot.png
    python -m workflow.screenshot --models-dir DIR --language fr --example 1 --out /tmp/shot.png

Needs Debian's `chromium` and `chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver); Selenium
is pointed at both, so it never tries to download a browser.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.facts import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# No GPU, no sandbox (containers), small /dev/shm, and nothing that phones home.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
SCREENSHOT = REPO_ROOT / "docs" / "screenshot.png"


@contextmanager
def chromium_driver(width: int = 1400, height: int = 1000) -> Iterator:
    """A headless Chromium WebDriver with a fresh profile, quit and its profile removed on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True) as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={width},{height}")
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def wait_for(driver, condition, timeout: float = 60.0, what: str = "condition"):
    """Poll `condition(driver)` until it returns something truthy."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition(driver)
        except StaleElementReferenceException:  # Svelte re-rendered the node between find and read
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def highlighted(driver, column: str) -> list[str]:
    """Texts of the highlighted spans in one column (model key, or "gold")."""
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, f"#hl-{column} .token.highlighted .text")]


def run_example(driver, url: str, language: str = "de", example: int = 1, timeout: float = 90.0) -> list[str]:
    """Open the app, pick a language and a PAN-X example (index >= 1, it has gold), and wait until the
    run has finished. Returns the model keys whose columns are shown."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#examples tbody tr"), timeout, "the examples")
    if language != "de":
        radio = driver.find_element(By.CSS_SELECTOR, f"#language input[value='{language}']")
        driver.execute_script("arguments[0].click();", radio)
        wait_for(driver, lambda d: language_examples_shown(d, language), timeout, f"{language} examples")
        # Switching language also runs the models on its first sentence: let that finish first.
        wait_for(driver, lambda d: columns_done(d, gold=False), timeout, "the language switch's run")
    driver.find_elements(By.CSS_SELECTOR, "#examples tbody tr")[example].click()
    return wait_for(driver, lambda d: columns_done(d, gold=True), timeout, "the example's results")


def set_text(driver, text: str) -> None:
    """Type into the text box; through JS because chromedriver cannot type characters outside the BMP (emoji)."""
    driver.execute_script(
        "const box = document.querySelector('#text textarea'); box.value = arguments[0];"
        "box.dispatchEvent(new Event('input', {bubbles: true}));",
        text,
    )


def columns_done(driver, gold: bool) -> list[str] | None:
    """The shown model columns, once each shows its status line (a finished run), and the gold column if asked.

    The status and the gold column come in the same update as the spans, so they mark the end of a run.
    """
    from selenium.webdriver.common.by import By

    columns = driver.find_elements(By.CSS_SELECTOR, "[id^='col-']")
    shown = [e.get_attribute("id")[len("col-") :] for e in columns if e.is_displayed()]
    models = [k for k in shown if k != "gold"]
    # A status that is not .pending: a running model's column says that it runs.
    finished = all(driver.find_elements(By.CSS_SELECTOR, f"#status-{k} .model-status:not(.pending)") for k in models)
    return models if models and finished and (not gold or "gold" in shown) else None


def language_examples_shown(driver, language: str) -> bool:
    from selenium.webdriver.common.by import By

    from space.examples import load_examples

    first = load_examples()[language][0].text
    rows = driver.find_elements(By.CSS_SELECTOR, "#examples tbody tr")
    return bool(rows) and first[:20] in rows[0].text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", help="bundled models folder (default: $PANX_MODELS_DIR or space/models)")
    parser.add_argument("--language", default="de")
    parser.add_argument("--example", type=int, default=1, help="row of the examples: 1-3 are PAN-X sentences with gold")
    parser.add_argument("--models", help="comma-separated model keys to show (default: the language's defaults)")
    parser.add_argument("--out", default=str(SCREENSHOT))
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args(argv)

    from selenium.webdriver.common.by import By

    from space.app import build_demo, launch

    demo = build_demo(models_dir=args.models_dir)
    _, url, _ = launch(demo, prevent_thread_lock=True, quiet=True)
    try:
        with chromium_driver(args.width, args.height) as driver:
            run_example(driver, url, args.language, args.example)
            if args.models:
                wanted = set(args.models.split(","))
                for box in driver.find_elements(By.CSS_SELECTOR, "#models input[type='checkbox']"):
                    if (box.get_attribute("name") in wanted) != box.is_selected():
                        driver.execute_script("arguments[0].click();", box)
                wait_for(driver, lambda d: all(highlighted(d, k) for k in wanted), 90, "the chosen models")
            time.sleep(1.0)  # let the table and agreement line settle
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(args.out)
            print(f"wrote {args.out}")
    finally:
        demo.close()


if __name__ == "__main__":
    main()
