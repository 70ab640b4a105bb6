"""Writing and poetry commands: ``poem``, ``write``, ``check``, ``tunes``."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from ..errors import LstmkitError, printable
from ..sample_config import SampleConfig
from .base import echo_json, main, options

sampling_options = options(
    click.option("--model", "model_dir", help="Model folder or bundled name (default: the bundled Tang model; the Song ci model for --form ci)."),
    click.option("--start", default="", help="Text to continue (fed to the model once)."),
    click.option("-n", "count", type=int, default=1, show_default=True, help="How many samples."),
    click.option("--temperature", type=float, default=SampleConfig.temperature, show_default=True, help="0 picks the most likely token."),
    click.option("--top-k", type=int, default=SampleConfig.top_k, show_default=True, help="Keep the k most likely tokens (0: all)."),
    click.option("--top-p", type=float, default=SampleConfig.top_p, show_default=True, help="Nucleus sampling mass."),
    click.option("--max-len", type=int, default=SampleConfig.max_len, show_default=True, help="New tokens at most."),
    click.option("--seed", type=int, help="Make the output reproducible."),
    click.option("--device", default="cpu", show_default=True),
    click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "int8"]), default="auto", show_default=True, help="What to write with; auto: int8 matmuls on a CPU (an LSTM; fp32 in NumPy, without torch, for a few poems), bf16 on CUDA."),
    click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text."),
    click.option("--title", default="", help="Write to this title (a model trained with titles, as the bundled ones are), e.g. 秋夜送友."),
    click.option("--theme", help="Keywords, e.g. '月 秋 送别': the real title holding most of them becomes --title."),
    click.option("--poet", default="", help="Write in this poet's manner, e.g. 李白 (list: lstmkit poets)."),
    click.option("--guidance", type=float, default=SampleConfig.guidance, show_default=True, help="How hard --title, --theme and --poet steer (0: as the model learned; higher: more on topic, at twice the compute)."),
    click.argument("more_theme", nargs=-1, metavar=""),
)


def _about(generator, title: str, theme: str | None, more_theme: tuple[str, ...], poet: str) -> str:
    """The title to write to: --title, or the one --theme's keywords find (said on stderr)."""
    if more_theme and theme is None:
        raise LstmkitError(f"unexpected argument(s): {printable(' '.join(more_theme))}")
    if theme is None:
        return title
    from ..poetry.theme import title_or_theme

    title, how = title_or_theme(title, [theme, *more_theme], generator.vocab,
                                names=("--title", "--theme"))
    generator.conditioning.prefix(generator.title_tokens(title), poet or None)  # checked before writing
    click.echo(f"theme -> title {title} ({how})", err=True)
    return title


@main.command()
@sampling_options
def write(model_dir, start, count, temperature, top_k, top_p, max_len, seed, device,
          precision, as_json, title, theme, poet, guidance, more_theme) -> None:
    """Write free text: continue --start until the model ends or --max-len is reached."""
    from ..bundled import load_for_writing
    from ..poetry.request import sample_record
    from ..sample_numpy import generator_for

    config = SampleConfig(temperature=temperature, top_k=top_k, top_p=top_p,
                          max_len=max_len, seed=seed, guidance=guidance)
    loaded = load_for_writing(model_dir, device, precision, rows=count)
    generator = generator_for(loaded)
    title = _about(generator, title, theme, more_theme, poet)
    samples = generator.generate(start, count, config, title=title, poet=poet)
    if as_json:
        echo_json([sample_record(s) for s in samples])
        return
    click.echo("\n\n".join(s.text for s in samples))


@main.command()
@sampling_options
@click.option("--form", help="五绝 七绝 五律 七律 (or wujue qijue wulv qilv), or ci with --tune; default: any shape the model writes.")
@click.option("--tune", help="词牌 for --form ci, e.g. 浣溪沙 (list: lstmkit tunes).")
@click.option("--tones", type=click.Choice(["strict", "loose", "off"]), default="strict", show_default=True, help="strict: a standard 平仄 pattern and rhyme; loose: rhyme only; off: shape only.")
@click.option("--rhyme", help="平水韵 level-tone group for the rhymes, e.g. 一东 (default: any).")
@click.option("--acrostic", help="藏头诗: line i starts with character i (4 -> 七绝, 8 -> 七律 unless --form says).")
@click.option("--candidates", type=int, default=4, show_default=True, help="Poems drawn per poem shown; the best are kept.")
@click.option("--refine/--no-refine", default=True, show_default=True, help="Reused characters cost as far as real poems reuse fewer, 律诗 couplets pair (对仗), and candidates are chosen by both directions' models and that craft. --no-refine: the most likely candidate (stutters and runaway reuse stay banned either way).")
@click.option("--backward", help="Folder of a right-to-left model (lstmkit train --reverse) whose score joins the forward model's in choosing candidates.")
@click.option("--template", help="The poem with ＿ (or _ □ *) for each character to write, e.g. 春风＿＿＿＿＿，＿＿＿＿＿＿。...; the other characters stay.")
@click.option("--traditional", is_flag=True, help="Show the poems in traditional characters (OpenCC).")
def poem(model_dir, start, count, temperature, top_k, top_p, max_len, seed, device, precision,
         as_json, title, theme, poet, guidance, more_theme, form, tune, tones, rhyme, acrostic,
         candidates, refine, backward, template, traditional) -> None:
    """Write whole poems; with --form or --acrostic, in a regulated form that is guaranteed."""
    from ..bundled import load_backward, load_for_writing
    from ..decoding import poem_lines
    from ..poetry.request import PoemRequest, poem_generator, poem_record, write_poems
    from ..script import to_script

    config = SampleConfig(temperature=temperature, top_k=top_k, top_p=top_p,
                          max_len=max_len, seed=seed, guidance=guidance)
    request = PoemRequest.make(form, tune, tones, rhyme, acrostic, start, candidates, refine,
                               template=template, title=title, poet=poet)
    loaded = load_for_writing(model_dir, device, precision, default=request.model_name,
                              rows=request.rows(count) if backward is None else None)
    generator = poem_generator(loaded, model_dir)
    if theme is not None or more_theme:
        request = replace(request, title=_about(generator, title, theme, more_theme, poet))
    scorer = load_backward(backward, device) if refine and request.form is not None else None
    samples = write_poems(generator, request, count, config, scorer)
    script = "traditional" if traditional else "simplified"
    if as_json:
        echo_json([poem_record(s, request, script) for s in samples])
        return
    click.echo("\n\n".join("\n".join(poem_lines(to_script(s.text, script))) for s in samples))


@main.command()
@click.argument("text", required=False)
@click.option("--file", "path", type=click.Path(), help="Read the poem from a file (- for standard input).")
@click.option("--form", help="Check against this form instead of the one the shape suggests.")
@click.option("--tune", help="Check against a 词牌's pattern (see lstmkit tunes).")
@click.option("--tones", type=click.Choice(["strict", "loose", "off"]), default="strict", show_default=True)
@click.option("--rhyme", help="Demand this 平水韵 group.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check(text, path, form, tune, tones, rhyme, as_json) -> None:
    """Explain a poem's form: 平仄 of each character, rhymes, and what breaks the rules.

    Exits with status 0 when the poem keeps every rule, 2 when it breaks some.
    """
    from ..poetry.check import check_poem, format_report

    if (text is None) == (path is None):
        raise LstmkitError("give the poem as an argument or with --file (one of them)")
    if path is not None:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise LstmkitError(f"cannot read poem file '{path}': {exc}") from exc
    result = check_poem(text, tones=tones, form=form, rhyme=rhyme, tune=tune)
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(printable(format_report(result), newlines=True))
    if not result.ok:
        sys.exit(2)


@main.command("poets")
@click.option("--model", "model_dir", help="Model folder or bundled name (default: the bundled Tang model).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def poets_command(model_dir, as_json) -> None:
    """List the poets a model writes like (--poet), most prolific first."""
    from ..bundled import load_vocab
    from ..data.condition import Conditioning

    poets = Conditioning(load_vocab(model_dir)).poets
    if as_json:
        echo_json(poets)
        return
    if not poets:
        raise LstmkitError("this model was trained without poets (lstmkit train --condition --poets N)")
    click.echo("  ".join(poets))


@main.command("tunes")
@click.argument("names", nargs=-1)
@click.option("--min-ci", type=int, default=20, show_default=True, help="List tunes with at least this many ci in the corpus.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tunes_command(names, min_ci, as_json) -> None:
    """List 词牌 with their patterns (line lengths and marks; 。 lines rhyme)."""
    from ..poetry.forms import get_form, tunes

    table = tunes()
    chosen = [table[get_form("ci", name).name] for name in names] if names else [
        t for t in table.values() if t.ci >= min_ci]
    if as_json:
        echo_json([t.to_dict() for t in chosen])
        return
    for t in chosen:
        click.echo(f"{t.form.name}  {t.form.rhyme_tone}韵  {t.follow}/{t.ci} ci  {t.shape}")
    if not names:
        click.echo(f"{len(chosen)} of {len(table)} tunes with {min_ci}+ ci; "
                   "--min-ci 2 lists all", err=True)
