"""Property-based fuzz of the corpus readers and the poem checker (hypothesis).

Whatever the bytes (random, invalid UTF-8, byte-order marks, huge lines, JSON of the wrong
shape, mixed scripts), reading a corpus ends in a clean ``LstmkitError`` or in poems with
an exact account (every record read is kept or dropped for a counted reason); checking a
poem ends in a verdict or a clean error. Never another exception, never a hang.

CI runs a few dozen cases per property; ``make robustness`` sets ``LSTMKIT_ROBUSTNESS=long``
for thousands (``scripts/robustness.py`` counts them into RELIABILITY.md).
"""

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmkit.data.corpus import load_poems, load_text
from lstmkit.errors import LstmkitError
from lstmkit.poetry.check import check_poem

LONG = os.environ.get("LSTMKIT_ROBUSTNESS") == "long"
CASES = int(os.environ.get("LSTMKIT_FUZZ_CASES", "2500" if LONG else "40"))
FUZZ = settings(max_examples=CASES, deadline=None, derandomize=not LONG,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
TEXT = st.text(alphabet=st.one_of(HAN, st.sampled_from("，。？！；、,.?!; \n\t\r\ufeff\u200b\x1b\x00"),
                                  st.characters()), max_size=200)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["title", "author", "paragraphs", "x"]), inner,
                                      max_size=4), max_leaves=12)
VERSE = st.builds(lambda a, b, mark: a + "，" + b + mark, st.text(HAN, min_size=5, max_size=7),
                  st.text(HAN, min_size=5, max_size=7), st.sampled_from(["。", "？", ".", ""]))
POEMISH = st.fixed_dictionaries({"title": TEXT, "author": TEXT,
                                 "paragraphs": st.lists(st.one_of(VERSE, VERSE, TEXT), min_size=0, max_size=4)})


FORMS = st.sampled_from([None, "五绝", "七绝", "五律", "七律", "词"])
TONES = st.sampled_from(["strict", "loose", "off", "weird"])
TUNES = st.sampled_from([None, "浣溪沙", "不是词牌"])


@st.composite
def corpus_bytes(draw) -> tuple[str, bytes]:
    """A file name and its bytes: JSON lines (some poem-shaped, some not), a JSON array,
    plain text, or raw bytes; with a BOM, invalid bytes or a huge line sometimes."""
    kind = draw(st.sampled_from(["jsonl", "json", "txt", "bytes"]))
    if kind == "jsonl":
        records = draw(st.lists(st.one_of(POEMISH, JSON), max_size=6))
        body = "\n".join(json.dumps(r, ensure_ascii=draw(st.booleans())) for r in records).encode(
            "utf-8", "surrogatepass")
        if draw(st.booleans()):
            body += b"\n{not json"
    elif kind == "json":
        body = json.dumps(draw(st.one_of(st.lists(POEMISH, max_size=4), JSON)),
                          ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    elif kind == "txt":
        lines = draw(st.lists(st.one_of(VERSE, TEXT), max_size=6))
        body = "\n".join(lines).encode("utf-8", "surrogatepass")
    else:
        body = draw(st.binary(max_size=300))
    if draw(st.booleans()):
        body = b"\xef\xbb\xbf" + body
    if draw(st.integers(0, 9)) == 0:
        body += ("长" * draw(st.integers(1000, 20000))).encode()
    if draw(st.integers(0, 4)) == 0:
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xe6\x98"])) + body[cut:]
    suffix = draw(st.sampled_from([".jsonl", ".json", ".txt", ""]))
    return "corpus" + suffix, body


@FUZZ
@given(corpus_bytes())
def test_reading_any_corpus_ends_cleanly_with_an_exact_account(tmp_path_factory, case):
    read_corpus_case(tmp_path_factory.mktemp("fuzz"), case)


@FUZZ
@given(TEXT, FORMS, TONES, TUNES)
def test_checking_any_text_gives_a_verdict_or_a_clean_error(text, form, tones, tune):
    check_case(text, form, tones, tune)


def read_corpus_case(folder, case) -> str:
    """Read one fuzzed corpus as poems and as a text: "poems" or "refused" (a clean
    error); anything else raises."""
    name, body = case
    path = folder / name
    path.write_bytes(body)
    outcome = "refused"
    try:
        poems, report = load_poems(path)
    except LstmkitError:
        pass
    else:
        assert poems and report.kept == len(poems)
        assert report.read == report.kept + sum(report.dropped.values())
        outcome = "poems"
    try:
        text, _ = load_text(path)
    except LstmkitError:
        pass
    else:
        assert isinstance(text, str) and text.strip()
    return outcome


def check_case(text, form, tones, tune) -> str:
    """Check one fuzzed poem: "verdict" or "refused"; anything else raises."""
    try:
        result = check_poem(text, tones=tones, form=form, tune=tune)
    except LstmkitError:
        return "refused"
    assert isinstance(result.ok, bool) and isinstance(result.to_dict(), dict)
    return "verdict"
