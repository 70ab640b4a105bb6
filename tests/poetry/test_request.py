"""write_poems cuts a large call into decoding passes on a CPU: small calls are one pass as
before, and a cut call still gives distinct poems of the form, reproducible from its seed."""

import pytest

from lstmkit.poetry import request as request_module
from lstmkit.poetry.check import check_poem
from lstmkit.poetry.forms import get_form
from lstmkit.poetry.request import PASS_ROWS, PoemRequest, passes, write_poems
from lstmkit.sample import SampleConfig

from conftest import verse_generator


def test_passes_are_near_equal_and_within_the_limit():
    assert passes(PASS_ROWS) == [PASS_ROWS]
    assert passes(7) == [7]
    assert passes(PASS_ROWS + 1) == [PASS_ROWS // 2 + 1, PASS_ROWS // 2]
    cut = passes(4000)
    assert sum(cut) == 4000 and max(cut) <= PASS_ROWS and max(cut) - min(cut) <= 1
    assert passes(4000, "cuda") == [4000]


def test_a_call_cut_into_passes_writes_distinct_poems_of_the_form(monkeypatch):
    generator = verse_generator()
    sizes = []
    real = generator.generate

    def counting(start, n, *args, **kwargs):
        sizes.append(n)
        return real(start, n, *args, **kwargs)

    monkeypatch.setattr(generator, "generate", counting)
    monkeypatch.setattr(request_module, "PASS_ROWS", 6)
    request = PoemRequest(get_form("五绝"), tones="loose", refine=False)
    poems = write_poems(generator, request, 5, SampleConfig(seed=4))
    assert sizes[:4] == [5, 5, 5, 5]  # 20 rows: 4 passes of 5
    assert len({p.text for p in poems}) == 5
    assert all(check_poem(p.text, tones="loose", form="五绝").ok for p in poems)
    sizes.clear()
    again = write_poems(generator, request, 5, SampleConfig(seed=4))
    assert [p.text for p in again] == [p.text for p in poems]


@pytest.mark.parametrize("n", [1, 3])
def test_a_small_call_is_one_pass(monkeypatch, n):
    generator = verse_generator()
    sizes = []
    real = generator.generate
    monkeypatch.setattr(generator, "generate",
                        lambda start, rows, *a, **k: sizes.append(rows) or real(start, rows, *a, **k))
    write_poems(generator, PoemRequest(get_form("五绝"), tones="loose"), n, SampleConfig(seed=1))
    assert sizes[0] == n * 4
