"""The JSON bodies the HTTP API takes, with their bounds (pydantic: a bad field is a 422
naming it). Bounds that the server's ``Limits`` set (how many poems, how long a text) are
checked again in ``app.py`` against the limits the server was started with."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FormName = Literal["五绝", "七绝", "五律", "七律", "ci"]
Script = Literal["simplified", "traditional"]
Tones = Literal["strict", "loose", "off"]
SEED_MAX = 2**63 - 1


class Sampling(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    temperature: float = Field(0.8, ge=0.0, le=5.0, description="0 writes greedily")
    top_k: int = Field(0, ge=0, le=100_000, description="keep the k most likely characters (0: all)")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="nucleus: the smallest set reaching p")
    n: int = Field(1, ge=1, description="how many (at most the server's limit)")
    seed: int | None = Field(None, ge=0, le=SEED_MAX,
                             description="the same seed and settings give the same text")
    script: Script = "simplified"
    model: str | None = Field(None, max_length=64, description="one of GET /api/models")
    title: str | None = Field(None, max_length=32, description="write to this title (models trained with titles)")
    theme: str | None = Field(None, max_length=64,
                              description="keywords, e.g. '月 秋 送别': the real title holding most of them")
    poet: str | None = Field(None, max_length=20, description="write like this poet (GET /api/models lists them)")
    guidance: float = Field(1.0, ge=0.0, le=10.0, description="how hard title and poet steer (0: as trained)")


class PoemBody(Sampling):
    """POST /api/poems and /api/poems/stream."""

    form: FormName = Field(description="五绝 七绝 五律 七律, or ci with a tune")
    tune: str | None = Field(None, max_length=20, description="a 词牌 for form ci (GET /api/tunes)")
    acrostic: str | None = Field(None, max_length=8, description="each line's first character")
    start: str | None = Field(None, max_length=64, description="the poem's opening characters")
    template: str | None = Field(None, max_length=400,
                                 description="the poem with ＿ for each character to write")
    lines: list[str | None] | None = Field(None, max_length=40,
                                           description="per line: locked text, or null to write it")
    rhyme: str | None = Field(None, max_length=8, description="a 平水韵 group (一东) or 词林正韵 part")
    tones: Tones = "strict"
    refine: bool = True


class WriteBody(Sampling):
    """POST /api/write: free text from a start."""

    start: str = Field("", max_length=200)
    max_len: int = Field(120, ge=1, description="new characters at most (the server's limit)")


class CheckBody(BaseModel):
    """POST /api/check."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)
    form: FormName | None = None
    tune: str | None = Field(None, max_length=20)
    tones: Tones = "strict"
    rhyme: str | None = Field(None, max_length=8)
