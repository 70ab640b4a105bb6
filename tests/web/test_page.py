"""Browser tests of the web page: a real uvicorn server on an untrained verse model, Debian's
Chromium driven by Playwright. Skipped when Chromium or Playwright is missing.

Set LSTMKIT_SCREENSHOT=docs/web-page.png to keep the screenshot of a written poem."""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from lstmkit.web.app import create_app
from lstmkit.web.background import running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip("the browser tests need Debian's chromium (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the browser tests need playwright (pip install playwright)")

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 30_000  # generous for a loaded 2-core machine; a passing test takes a second or two
LINE_TEXTS = "els => els.map(e => e.dataset.text)"


@pytest.fixture(scope="module")
def server_url(verse_model_dir):
    """The page and API over one untrained verse model as both tang and songci."""
    with running(create_app(models={"tang": verse_model_dir, "songci": verse_model_dir})) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@contextmanager
def open_tab(browser, url, width=1000, height=900):
    """A fresh tab on the page with its choices loaded; fails if the page's script threw."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(url)
        page.wait_for_selector("body[data-ready='true']")
        yield page
    finally:
        context.close()
    assert errors == [], f"script errors on the page: {errors}"


@pytest.fixture
def page(browser, server_url):
    with open_tab(browser, server_url) as tab:
        yield tab


def write_poem(page, form="七绝", seed=1, **fields):
    """Fill the Write form (``fields`` by input id), press Write and wait for the outcome."""
    page.select_option("#form", form)
    for name, value in fields.items():
        page.fill(f"#{name}", str(value))
    if seed is not None:
        page.evaluate("document.querySelector('.more').open = true")
        page.fill("#seed", str(seed))
    return press_and_wait(page, "#write")


def press_and_wait(page, button):
    """Click ``button`` and wait until the poem is done or an error shows; the final state."""
    page.click(button)
    page.wait_for_selector("#poem[data-state='done'], #poem[data-state='error']", state="attached")
    return page.get_attribute("#poem", "data-state")


def shown_lines(page) -> list[str]:
    return page.eval_on_selector_all("#poem .poem-line", LINE_TEXTS)


def test_acrostic_poem_is_drawn_character_by_character(page):
    # Count the poem's redraws while it is being written: one per streamed character.
    page.evaluate("""() => {
        const poem = document.querySelector('#poem');
        window.redraws = 0;
        new MutationObserver(records => {
            if (poem.dataset.state === 'drawing')
                window.redraws += records.filter(r => r.target === poem).length;
        }).observe(poem, {childList: true});
    }""")
    forms = page.eval_on_selector_all("#form option", "els => els.map(e => e.value)")
    assert forms == ["五绝", "七绝", "五律", "七律", "ci"]  # tang's forms, then songci's
    assert page.is_hidden("#tune")
    assert write_poem(page, acrostic="春夏秋冬") == "done"
    lines = shown_lines(page)
    assert [len(line) for line in lines] == [7, 7, 7, 7]
    assert [line[0] for line in lines] == list("春夏秋冬")
    assert page.evaluate("window.redraws") >= 28
    text = page.inner_text("#poem")
    assert text.count("，") == 2 and text.count("。") == 2  # laid out with its punctuation
    assert "七绝" in page.inner_text("#poem-meta")
    page.click("#copy")
    page.wait_for_selector("#copy-status:has-text('Copied')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert [row[:7] for row in copied.splitlines()] == lines


def test_lock_a_line_and_rewrite_the_others(page):
    assert write_poem(page, seed=3) == "done"
    before = shown_lines(page)
    page.click("#poem .poem-line[data-line='1']")
    locked = page.locator("#poem .poem-line.locked")
    assert locked.count() == 1 and locked.get_attribute("aria-pressed") == "true"
    page.fill("#seed", "4")
    assert press_and_wait(page, "#regenerate") == "done"
    after = shown_lines(page)
    assert [len(line) for line in after] == [7, 7, 7, 7]
    assert after[1] == before[1]
    assert after != before
    assert page.get_attribute("#poem .poem-line[data-line='1']", "class").split().count("locked") == 1
    # Unlock: the line is plain again and a new Write forgets the lock.
    page.click("#poem .poem-line[data-line='1']")
    assert page.locator("#poem .poem-line.locked").count() == 0


def test_traditional_script(page):
    assert write_poem(page, acrostic="春风秋月") == "done"
    assert shown_lines(page)[1][0] == "风"
    page.select_option("#script", "traditional")
    assert press_and_wait(page, "#write") == "done"
    lines = shown_lines(page)
    assert [line[0] for line in lines] == ["春", "風", "秋", "月"]
    assert not any("风" in line for line in lines)


def test_check_tab_shows_pattern_tones_and_violations(page):
    page.click("#tab-check")
    assert page.is_hidden("#panel-write") and page.is_visible("#check-text")
    page.fill("#check-text", "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
    page.click("#check-run")
    page.wait_for_selector("#check-result .summary")
    assert "仄起首句不入韵" in page.inner_text("#check-result .summary")
    tones = page.eval_on_selector_all(
        "#check-poem .poem-line", "els => els.map(e => [...e.querySelectorAll('rt')].map(t => t.textContent).join(''))")
    assert tones == ["仄仄平平仄", "平平仄仄平", "仄平平仄仄", "中仄仄平平"]
    assert page.is_visible("#check-poem rt")
    rhymes = page.eval_on_selector_all("#check-poem ruby.rhyme", "els => els.map(e => e.firstChild.textContent)")
    assert rhymes == ["流", "楼"]
    assert "form: 五绝" in page.inner_text("#check-report")

    page.fill("#check-text", "床前明月光，疑是地上霜。举头望明月，低头思故乡。")
    page.click("#check-run")
    page.wait_for_selector("#check-result .violations")
    assert page.locator("#check-result .violations li").count() == 2
    faults = page.eval_on_selector_all("#check-poem ruby.fault", "els => els.map(e => e.firstChild.textContent)")
    assert faults == ["上", "头"]


def test_errors_are_shown_in_words(page):
    assert write_poem(page, acrostic="春夏秋", seed=None) == "error"
    error = page.inner_text("#error")
    assert page.is_visible("#error") and error.strip()
    assert "{" not in error and "detail" not in error
    assert page.locator("#poem .poem-line").count() == 0

    page.fill("#acrostic", "")
    page.fill("#temperature", "9")
    assert press_and_wait(page, "#write") == "error"
    assert page.inner_text("#error").startswith("温度 temperature:")

    page.fill("#temperature", "0.8")
    page.fill("#title", "秋夜")  # the test server's model was trained without titles
    assert press_and_wait(page, "#write") == "error"
    assert page.inner_text("#error").startswith("题目 title: this model was trained without titles")

    page.fill("#title", "")
    assert press_and_wait(page, "#write") == "done"
    assert page.is_hidden("#error")

    page.click("#tab-check")
    page.fill("#check-text", "春" * 6000)  # 18 kB: over the server's body limit
    page.click("#check-run")
    page.wait_for_selector("#check-error:not([hidden])")
    assert page.inner_text("#check-error").startswith("请求太大 Request too large")


def test_phone_screen(browser, server_url):
    with open_tab(browser, server_url, width=390, height=844) as page:
        width = "document.scrollingElement.scrollWidth"
        assert page.evaluate(width) <= 390
        box = page.locator("#write").bounding_box()
        assert page.is_visible("#write") and box["y"] + box["height"] <= 844
        fields = [page.locator(f"#{name}").bounding_box() for name in ("form", "acrostic", "start")]
        assert fields[0]["y"] < fields[1]["y"] < fields[2]["y"]  # stacked in one column

        assert write_poem(page, form="七律") == "done"
        page.check("#show-tones")
        assert page.evaluate(width) <= 390
        page.check("#vertical")
        assert page.eval_on_selector("#poem", "e => getComputedStyle(e).writingMode") == "vertical-rl"
        first, second = (page.locator(f"#poem .poem-line[data-line='{i}']").bounding_box() for i in (0, 1))
        assert first["x"] > second["x"]  # lines run right to left
        assert page.evaluate(width) <= 390


def test_screenshot_of_a_poem_with_tone_marks(browser, tmp_path):
    """The shipped Tang model writes it, so the picture shows real verse."""
    with running(create_app(models={"tang": "tang"})) as url, open_tab(browser, url) as page:
        assert write_poem(page, acrostic="春夏秋冬", title="四时", seed=7) == "done"
        assert [line[0] for line in shown_lines(page)] == list("春夏秋冬")
        assert page.is_hidden("#poem rt")
        page.check("#show-tones")
        page.check("#show-rhymes")
        assert page.locator("#poem rt:visible").count() == 28
        assert page.locator("#poem .rhyme").count() >= 2  # a 七绝 rhymes at least lines 2 and 4
        page.click("#poem .poem-line[data-line='0']")
        target = Path(os.environ.get("LSTMKIT_SCREENSHOT") or tmp_path / "web-page.png")
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 10_000
