"""The HTTP API on a tiny untrained model: shapes, limits, errors, streaming, batching."""

import asyncio
import json
import time

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from lstmkit.poetry.check import check_poem  # noqa: E402
from lstmkit.web.app import Limits, create_app  # noqa: E402
from lstmkit.web.batching import deal  # noqa: E402


@pytest.fixture(scope="module")
def client(verse_model_dir):
    app = create_app({"tang": verse_model_dir}, Limits(max_n=4, timeout_s=20))
    with TestClient(app) as client:
        yield client


def test_health_models_and_tunes(client):
    assert client.get("/healthz").json() == {"status": "ok", "models": ["tang"]}
    models = client.get("/api/models").json()["models"]
    assert models == [{"name": "tang", "forms": ["五绝", "七绝", "五律", "七律", "ci"], "titles": False,
                       "poets": []}]
    tunes = client.get("/api/tunes").json()["tunes"]
    assert tunes[0]["name"] == "浣溪沙" and tunes[0]["lengths"] == [7, 7, 7, 7, 7, 7]
    assert client.get("/openapi.json").json()["paths"]["/api/poems"]["post"]


def test_poems_keep_their_form_and_carry_the_check(client):
    response = client.post("/api/poems", json={"form": "五绝", "acrostic": "春夏秋冬", "n": 2, "seed": 3})
    assert response.status_code == 200, response.text
    poems = response.json()["poems"]
    assert len(poems) == 2 and poems[0]["text"] != poems[1]["text"]
    for poem in poems:
        assert [line[0] for line in poem["check"]["lines"] for line in [line["text"]]] == list("春夏秋冬")
        assert poem["check"] == check_poem(poem["text"], form="五绝").to_dict()
        assert poem["check"]["ok"] and poem["check"]["form"] == "五绝"
    again = client.post("/api/poems", json={"form": "五绝", "acrostic": "春夏秋冬", "n": 2, "seed": 3})
    assert again.json() == response.json()  # a seed gives the same poems


def test_locked_lines_and_a_template_stay(client):
    first = client.post("/api/poems", json={"form": "七绝", "seed": 1}).json()["poems"][0]
    kept = first["check"]["lines"][2]["text"]
    response = client.post("/api/poems", json={"form": "七绝", "seed": 2, "lines": [None, None, kept, None]})
    lines = response.json()["poems"][0]["check"]["lines"]
    assert lines[2]["text"] == kept and [len(x["text"]) for x in lines] == [7, 7, 7, 7]
    template = "春风＿＿＿＿＿，＿＿＿＿＿＿＿。＿＿＿＿＿＿＿，＿＿＿＿＿＿＿。"
    text = client.post("/api/poems", json={"form": "七绝", "template": template, "seed": 4}).json()["poems"][0]["text"]
    assert text.startswith("春风") and check_poem(text, form="七绝").ok


def test_traditional_script(client):
    poem = client.post("/api/poems", json={"form": "五绝", "acrostic": "风云东门", "seed": 5,
                                           "script": "traditional"}).json()["poems"][0]
    assert [line["text"][0] for line in poem["check"]["lines"]] == list("風雲東門")
    assert poem["text"][0] == "風"


@pytest.mark.parametrize("body, field", [
    ({"form": "八绝"}, "form"),
    ({"form": "七绝", "temperature": -1}, "temperature"),
    ({"form": "七绝", "temperature": 1e309}, "temperature"),
    ({"form": "七绝", "top_p": 0}, "top_p"),
    ({"form": "七绝", "n": 5}, "n"),
    ({"form": "七绝", "seed": 2**64}, "seed"),
    ({"form": "七绝", "script": "klingon"}, "script"),
    ({"form": "七绝", "acrostic": "春夏秋"}, "acrostic"),
    ({"form": "七绝", "template": "春风＿，＿。"}, "template"),
    ({"form": "七绝", "lines": ["春风"]}, "lines"),
    ({"form": "七绝", "start": "春风。"}, "start"),
    ({"form": "七绝", "rhyme": "十九侵"}, "rhyme"),
    ({"form": "ci"}, "tune"),
    ({"form": "ci", "tune": "不是词牌"}, "tune"),
    ({"form": "七绝", "tune": "浣溪沙"}, "tune"),
    ({"rhyme": "七阳"}, "form"),  # the API needs a form (or a tune) anyway
    ({"form": "七绝", "model": "../etc"}, "model"),
    ({"form": "七绝", "surprise": 1}, "surprise"),
])
def test_a_bad_field_is_a_422_naming_it(client, body, field):
    response = client.post("/api/poems", content=json.dumps(body).replace("Infinity", "1e309"),
                           headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail[0]["loc"][-1] == field, detail
    assert detail[0]["msg"]


def test_check_write_and_limits(client):
    checked = client.post("/api/check", json={"text": "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"}).json()
    assert checked["check"]["pattern"] == "仄起首句不入韵" and "no violations" in checked["report"]
    assert client.post("/api/check", json={"text": ""}).status_code == 422
    written = client.post("/api/write", json={"start": "春", "max_len": 10, "n": 2, "seed": 1}).json()
    assert len(written["texts"]) == 2 and all(t["text"].startswith("春") for t in written["texts"])
    assert client.post("/api/write", json={"max_len": 100_000}).json()["detail"][0]["loc"] == ["body", "max_len"]
    big = client.post("/api/check", content=b'{"text": "' + b"x" * 20_000 + b'"}',
                      headers={"content-type": "application/json"})
    assert big.status_code == 413 and "limit" in big.json()["detail"]


def events(text: str) -> list[tuple[str, dict]]:
    found = []
    for block in text.strip().split("\n\n"):
        kind = block.split("\n")[0].removeprefix("event: ")
        found.append((kind, json.loads(block.split("\n")[1].removeprefix("data: "))))
    return found


def test_a_stream_sends_each_character_then_the_poem(client):
    with client.stream("POST", "/api/poems/stream", json={"form": "五绝", "start": "白日", "seed": 2}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        got = events("".join(response.iter_text()))
    kinds = [kind for kind, _ in got]
    assert kinds[-1] == "done" and set(kinds) <= {"char", "restart", "done"}
    last_draft = got[max([i for i, (k, _) in enumerate(got) if k == "restart"], default=-1) + 1:-1]
    poem = got[-1][1]["poem"]
    lines = [line["text"] for line in poem["check"]["lines"]]
    assert "".join(data["char"] for _, data in last_draft) == "".join(lines)
    assert [(d["line"], d["pos"]) for _, d in last_draft][:6] == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0)]
    assert lines[0].startswith("白日") and poem["check"]["ok"]
    assert client.post("/api/poems/stream", json={"form": "五绝", "n": 2}).status_code == 422


def test_the_time_limit_gives_a_clear_error(verse_model_dir):
    app = create_app({"tang": verse_model_dir}, Limits(timeout_s=0.001, batch_window_s=0.05))
    with TestClient(app) as client:
        response = client.post("/api/poems", json={"form": "七律", "n": 4})
        assert response.status_code == 503 and "limit of 0.001 s" in response.json()["detail"]
        with client.stream("POST", "/api/poems/stream", json={"form": "七律"}) as stream:
            got = events("".join(stream.iter_text()))
        assert got[-1][0] == "error" and "limit" in got[-1][1]["detail"]


def test_concurrent_requests_share_a_pass(verse_model_dir):
    app = create_app({"tang": verse_model_dir}, Limits(batch_window_s=0.2))
    calls = []
    from lstmkit.web import app as web

    real = web.write_poems

    def counting(generator, request, n, config, *args):
        calls.append(n)
        return real(generator, request, n, config, *args)

    web.write_poems = counting
    try:
        import httpx

        async def many():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await asyncio.gather(*[http.post("/api/poems", json={"form": "五绝", "n": 2})
                                              for _ in range(5)])
        started = time.perf_counter()
        responses = asyncio.run(many())
        assert time.perf_counter() - started < 60
    finally:
        web.write_poems = real
    texts = [p["text"] for r in responses for p in r.json()["poems"]]
    assert all(r.status_code == 200 for r in responses) and len(set(texts)) == 10
    assert calls == [10]  # five requests, one decoding pass


def test_concurrent_streams_share_a_pass(verse_model_dir):
    app = create_app({"tang": verse_model_dir}, Limits(batch_window_s=0.2))
    calls = []
    from lstmkit.web import app as web

    real = web.stream_poems

    def counting(generator, request, config, readers):
        calls.append(len(readers))
        return real(generator, request, config, readers)

    web.stream_poems = counting
    try:
        import httpx

        async def read(http):
            async with http.stream("POST", "/api/poems/stream", json={"form": "五绝"}) as response:
                return events("".join([chunk async for chunk in response.aiter_text()]))

        async def many():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await asyncio.gather(*[read(http) for _ in range(4)])
        got = asyncio.run(many())
    finally:
        web.stream_poems = real
    assert calls == [4]  # four streams, one decoding pass
    for stream in got:
        kind, data = stream[-1]
        assert kind == "done" and data["poem"]["check"]["ok"]
        last_draft = stream[max([i for i, (k, _) in enumerate(stream) if k == "restart"], default=-1) + 1:-1]
        written = "".join(data["poem"]["lines"]).replace("，", "").replace("。", "")
        assert "".join(d["char"] for _, d in last_draft) == written
    assert len({stream[-1][1]["poem"]["text"] for stream in got}) == 4


def test_deal_hands_out_best_first_round_the_table():
    assert deal(list("abcdef"), [3, 1, 2]) == [["a", "d", "f"], ["b"], ["c", "e"]]


def test_a_locked_line_shown_in_traditional_is_read_back(client):
    # the page locks what it shows; the model writes simplified characters
    response = client.post("/api/poems", json={"form": "五绝", "seed": 6, "script": "traditional",
                                               "lines": ["風吹雲外樹", None, None, None]})
    assert response.status_code == 200, response.text
    poem = response.json()["poems"][0]
    assert len(poem["lines"]) == 4 and poem["lines"][0] == "風吹雲外樹"


def test_titles_themes_and_poets(conditioned_dir, client):
    app = create_app({"verse": conditioned_dir}, Limits(max_n=4, timeout_s=20))
    with TestClient(app) as cond:
        listed = cond.get("/api/models").json()["models"][0]
        assert listed["titles"] is True and len(listed["poets"]) == 3
        poet = listed["poets"][0]
        body = {"start": "春", "max_len": 8, "seed": 2}
        plain = cond.post("/api/write", json=body).json()["texts"]
        titled = cond.post("/api/write", json={**body, "title": "春晓", "poet": poet}).json()["texts"]
        assert plain != titled
        themed = cond.post("/api/write", json={**body, "theme": "春 花"})
        assert themed.status_code == 200, themed.text
        for extra, field in [({"poet": "无此人"}, "poet"), ({"title": "Spring"}, "title"),
                             ({"theme": "鑫"}, "theme"), ({"theme": "春", "title": "春晓"}, "theme")]:
            refused = cond.post("/api/write", json={**body, **extra})
            assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", field], refused.text
    # a model trained without titles names the field it cannot take
    refused = client.post("/api/poems", json={"form": "五绝", "title": "春晓"})
    assert refused.status_code == 422 and "trained without titles" in refused.text
    assert client.get("/api/models").json()["models"][0]["poets"] == []
