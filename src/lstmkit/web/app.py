"""The HTTP API and the web page, built by ``create_app`` (FastAPI, served by uvicorn).

    app = create_app(models={"tang": "tang", "songci": "songci"}, limits=Limits())

Models load once, here; no endpoint reads a path or loads a model the server was not
started with. Poems are written off the event loop in one worker thread, and requests that
decode alike share a pass (``batching.py``). Every bad field is a 422 naming it (pydantic,
or ``field_error`` for the server's own limits); what the library refuses (an unknown
character, an impossible template) is a 422 with its one-line message; a body over the
size limit is a 413, a request past the time limit a 503. The page is ``static/``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from ..errors import LstmkitError
from ..poetry.check import check_poem, format_report
from ..poetry.forms import FORMS, tunes
from ..poetry.request import PoemRequest, poem_generator, write_poems
from ..poetry.stream import Reader, stream_poem, stream_poems
from ..poetry.theme import title_or_theme
from ..sample import Generator, SampleConfig
from ..script import to_script, to_simplified
from .batching import Batcher, deal
from .schemas import CheckBody, PoemBody, WriteBody

STATIC = Path(__file__).with_name("static")
DEFAULT_MODELS = {"tang": "tang", "songci": "songci"}


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server."""

    max_n: int = 8  # poems or texts per request
    max_write_len: int = 400  # characters of free text
    max_body: int = 16_384  # bytes of a request body
    timeout_s: float = 30.0  # per request; then a 503 (a stream: an error event)
    batch_window_s: float = 0.01  # how long a request waits for others to share its pass
    batch_max_poems: int = 32  # poems (or streams) in one pass (throughput is flat from about 16)
    batching: bool = True


class FieldError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass
class Served:
    """A model the server writes with."""

    name: str
    generator: Generator
    poems: bool  # trained on poems, character by character: it can write forms


def _load(models: Mapping[str, object], device: str, precision: str) -> dict[str, Served]:
    from ..bundled import load_for_writing

    served = {}
    for name, where in models.items():
        loaded = load_for_writing(where, device, precision)
        config = loaded.text_config
        poems = config.mode == "poems" and config.level == "char" and not config.reverse
        generator = poem_generator(loaded, name) if poems else Generator.for_model(loaded)
        served[name] = Served(name, generator, poems)
    return served


def create_app(models: Mapping[str, object] | None = None, limits: Limits | None = None,
               device: str = "cpu", precision: str = "auto") -> FastAPI:
    """The app over ``models`` (name -> bundled name or model folder; default the bundled
    tang and songci), with ``limits``."""
    limits = limits or Limits()
    served = _load(models or DEFAULT_MODELS, device, precision)
    if not served:
        raise LstmkitError("the server needs at least one model")
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lstmkit-decode")
    app = FastAPI(title="lstmkit", summary="Classical Chinese poems from recurrent models: write and check.",
                  version="0.1.0")
    app.state.limits, app.state.models = limits, served

    def run(key: tuple, wants: list[tuple[int, object]]) -> list:
        """One pass: poems (dealt best first round the requests) or streams (a row each)."""
        kind, name, request, config = key
        generator = served[name].generator
        if kind == "stream":
            return stream_poems(generator, request, config, [reader for _, reader in wants])
        samples = write_poems(generator, request, sum(n for n, _ in wants), config)
        return deal(samples, [n for n, _ in wants])

    batcher = Batcher(run, executor, limits.batch_window_s, limits.batch_max_poems, limits.batching)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        # the location and message only: the input itself may be what JSON cannot hold (1e309)
        return JSONResponse(status_code=422, content={"detail": [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", "invalid"), "type": e.get("type", "value_error")}
            for e in exc.errors()]})

    @app.exception_handler(FieldError)
    async def _field(_: Request, exc: FieldError):
        return JSONResponse(status_code=422, content={"detail": [
            {"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}]})

    @app.exception_handler(LstmkitError)
    async def _refused(_: Request, exc: LstmkitError):
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(asyncio.TimeoutError)
    async def _late(_: Request, exc: asyncio.TimeoutError):
        return JSONResponse(status_code=503, content={"detail": _late_message(limits)})

    app.add_middleware(BodyLimit, max_body=limits.max_body)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "models": list(served)}

    @app.get("/api/models")
    async def list_models():
        return {"models": [{"name": m.name, "forms": _forms_of(m, served),
                            "titles": m.generator.conditioning.active,
                            "poets": m.generator.conditioning.poets} for m in served.values()]}

    @app.get("/api/tunes")
    async def list_tunes():
        if not any("ci" in _forms_of(m, served) for m in served.values()):
            return {"tunes": []}
        return {"tunes": [{"name": name, "ci": t.ci, "lengths": list(t.form.lengths)}
                          for name, t in tunes().items()]}

    @app.post("/api/poems")
    async def poems(body: PoemBody):
        name, request, config = _poem_request(body, served, limits)
        if body.seed is None:  # poems without a seed may share a pass
            job = batcher.submit(("poems", name, request, config), body.n)
        else:
            job = asyncio.get_running_loop().run_in_executor(
                executor, write_poems, served[name].generator, request, body.n, config)
        samples = await asyncio.wait_for(job, limits.timeout_s)
        return {"model": name, "poems": [_poem(s.text, request, body.script) for s in samples]}

    @app.post("/api/poems/stream")
    async def poems_stream(body: PoemBody):
        if body.n != 1:
            raise FieldError("n", "a stream writes one poem; ask for n = 1")
        name, request, config = _poem_request(body, served, limits)
        return StreamingResponse(_stream(executor, batcher, served[name], request, config, body.script,
                                         limits),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.post("/api/write")
    async def write(body: WriteBody):
        if body.n > limits.max_n:
            raise FieldError("n", f"at most {limits.max_n} texts per request")
        if body.max_len > limits.max_write_len:
            raise FieldError("max_len", f"at most {limits.max_write_len} characters")
        name = _model_name(body.model, None, served)
        config = _sampling(body, body.max_len)
        about = _about(body, served[name].generator)
        job = asyncio.get_running_loop().run_in_executor(
            executor, lambda: served[name].generator.generate(body.start, body.n, config, **about))
        samples = await asyncio.wait_for(job, limits.timeout_s)
        return {"model": name, "texts": [{"text": to_script(s.text, body.script), "finished": s.finished}
                                         for s in samples]}

    @app.post("/api/check")
    async def check(body: CheckBody):
        _known_tune(body.tune)
        result = check_poem(body.text, tones=body.tones, form=body.form, rhyme=body.rhyme, tune=body.tune)
        return {"check": result.to_dict(), "report": format_report(result)}

    app.router.on_shutdown.append(lambda: executor.shutdown(wait=False, cancel_futures=True))
    return app


def _forms_of(model: Served, served: Mapping[str, Served]) -> list[str]:
    """The forms ``model`` writes by default: a ci for songci, the rest for the others (all
    of them when it is the only poem model)."""
    if not model.poems:
        return []
    poem_models = [m for m in served.values() if m.poems]
    if len(poem_models) == 1:
        return [*FORMS, "ci"]
    wanted = "songci" if "songci" in served and served["songci"].poems else None
    if model.name == wanted:
        return ["ci"]
    return [*FORMS] + ([] if wanted else ["ci"])


def _model_name(asked: str | None, form: str | None, served: Mapping[str, Served]) -> str:
    if asked is not None:
        if asked not in served:
            raise FieldError("model", f"unknown model '{asked}'; this server has {', '.join(served)}")
        return asked
    for name, model in served.items():
        if form in _forms_of(model, served):
            return name
    return next(iter(served))


def _known_tune(tune: str | None) -> None:
    if tune and tune not in tunes():
        raise FieldError("tune", f"unknown tune '{tune}' (GET /api/tunes)")


def _sampling(body, max_len: int = 256) -> SampleConfig:
    return SampleConfig(temperature=body.temperature, top_k=body.top_k, top_p=body.top_p,
                        max_len=max_len, seed=body.seed, guidance=body.guidance)


def _poem_request(body: PoemBody, served: Mapping[str, Served], limits: Limits
                  ) -> tuple[str, PoemRequest, SampleConfig]:
    if body.n > limits.max_n:
        raise FieldError("n", f"at most {limits.max_n} poems per request")
    if body.form == "ci" and not body.tune:
        raise FieldError("tune", "form ci needs a tune (GET /api/tunes)")
    _known_tune(body.tune)
    name = _model_name(body.model, body.form, served)
    if not served[name].poems:
        raise FieldError("model", f"model '{name}' was not trained on poems; use /api/write")
    vocab = served[name].generator.vocab
    simple = to_simplified  # the models write simplified: a reader's traditional text is read so
    try:
        request = PoemRequest.make(form=body.form, tune=body.tune,
                                   tones=body.tones, rhyme=body.rhyme,
                                   acrostic=simple(body.acrostic), start=simple(body.start) or "",
                                   refine=body.refine, template=simple(body.template),
                                   lines=[simple(line) for line in body.lines] if body.lines else None)
        request.constraint(vocab)  # built once here, so what it refuses is named before writing
        request = replace(request, **_about(body, served[name].generator))
    except LstmkitError as exc:
        raise FieldError(_field_of(str(exc), body), str(exc)) from exc
    return name, request, _sampling(body)


def _about(body, generator: Generator) -> dict[str, str]:
    """The title (or the theme's title) and poet of a request, checked against the model."""
    title, poet = to_simplified(body.title) or "", body.poet or ""
    if body.theme is not None:
        try:
            title, _ = title_or_theme(title, to_simplified(body.theme), generator.vocab)
        except LstmkitError as exc:
            raise FieldError("theme", str(exc)) from exc
    try:
        generator.conditioning.prefix(generator.title_tokens(title), poet or None)
    except LstmkitError as exc:
        title_field = "theme" if body.theme is not None else "title"
        field = "poet" if "poet '" in str(exc) or not title else title_field
        raise FieldError(field, str(exc)) from exc
    return {"title": title, "poet": poet}


def _field_of(message: str, body: PoemBody) -> str:
    """The field a refusal of the poem library is about, by what it names."""
    if "fixed" in message and "acrostic" not in message:
        return "template" if body.template else "lines"
    for word, field in (("--tune", "tune"), ("acrostic", "acrostic"), ("opening", "start"), ("template", "template"),
                        ("lock", "lines"), ("rhyme", "rhyme"), ("group", "rhyme"), ("part", "rhyme")):
        if word in message:
            return field
    return "form"


def _poem(text: str, request: PoemRequest, script: str) -> dict:
    """A poem's JSON: its text and lines in ``script`` and the checker's verdict."""
    check = request.check(text).to_dict()
    if script != "simplified":
        for line in check["lines"]:
            line["text"] = to_script(line["text"], script)
        check["rhymes"] = [{**r, "char": to_script(r["char"], script)} for r in check["rhymes"]]
    shown = to_script(text, script)
    return {"text": shown, "lines": [line["text"] for line in check["lines"]], "check": check}


def _late_message(limits: Limits) -> str:
    return (f"the request took longer than the server's limit of {limits.timeout_s:g} s; "
            "try again, or ask for fewer poems")


def _event(kind: str, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _stream(executor: ThreadPoolExecutor, batcher: Batcher, model: Served,
                  request: PoemRequest, config: SampleConfig, script: str, limits: Limits):
    """Server-sent events: ``char`` per character as chosen, ``restart`` when a draft is
    dropped, then ``done`` with the poem (or ``error``). Streams without a seed share a
    pass (``batcher``); a reader who leaves is no longer written to."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    gone = False

    def on_char(line: int, pos: int, char: str) -> None:
        if not gone:
            loop.call_soon_threadsafe(queue.put_nowait, _event(
                "char", {"line": line, "pos": pos, "char": to_script(char, script)}))

    def on_restart() -> None:
        if not gone:
            loop.call_soon_threadsafe(queue.put_nowait, _event("restart", {}))

    if config.seed is None:
        job = asyncio.ensure_future(batcher.submit(("stream", model.name, request, config), 1,
                                                   Reader(on_char, on_restart)))
    else:
        job = loop.run_in_executor(executor, lambda: stream_poem(
            model.generator, request, config, on_char, on_restart))
    deadline = loop.time() + limits.timeout_s
    try:
        while not job.done() or not queue.empty():
            getter = asyncio.ensure_future(queue.get())
            finished, _ = await asyncio.wait({getter, job}, timeout=max(0.0, deadline - loop.time()),
                                             return_when=asyncio.FIRST_COMPLETED)
            if getter in finished:
                yield getter.result()
                continue
            getter.cancel()
            if not finished:  # past the deadline
                gone = True
                yield _event("error", {"detail": _late_message(limits)})
                return
        try:
            text = job.result().text
        except LstmkitError as exc:
            yield _event("error", {"detail": str(exc)})
            return
        yield _event("done", {"model": model.name, "poem": _poem(text, request, script)})
    finally:
        gone = True  # a reader who left hears no more
        if not job.done():
            job.cancel()


class BodyLimit:
    """ASGI middleware: a 413 for a body over ``max_body`` bytes by its declared length; a
    body sent without one is cut off where it passes the limit."""

    def __init__(self, app, max_body: int):
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            response = JSONResponse(status_code=413, content={
                "detail": f"the request body is over the server's limit of {self.max_body} bytes"})
            return await response(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise LstmkitError(f"the request body is over the server's limit of {self.max_body} bytes")
            return message

        await self.app(scope, limited, send)
