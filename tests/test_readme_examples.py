"""scripts/readme_examples.py finds the README's runnable examples and their output, and
writes new output in place of the old without touching anything else."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import readme_examples

ROOT = Path(__file__).resolve().parent.parent

TEXT = """# t

```console
$ lstmkit poem -n 2 --seed 1
first poem

second poem

$ lstmkit check 白日依山尽 \\
    --json
{"ok": true}
$ lstmkit train --corpus c --out runs/x
trained
```

```sh
$ lstmkit poem --seed 9
not a console block
```
"""


def test_examples_and_their_output_lines():
    lines = TEXT.split("\n")
    found = readme_examples.examples(lines)
    assert [e.command for e in found] == ["lstmkit poem -n 2 --seed 1",
                                          "lstmkit check 白日依山尽 --json"]
    first, second = found
    assert lines[first.start:first.end] == ["first poem", "", "second poem"]
    assert lines[second.start:second.end] == ['{"ok": true}']


def test_write_replaces_only_the_changed_output(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(TEXT, encoding="utf-8")
    outputs = {"lstmkit poem -n 2 --seed 1": ["new poem"],
               "lstmkit check 白日依山尽 --json": ['{"ok": true}']}
    monkeypatch.setattr(readme_examples, "run", lambda command: outputs[command])
    assert readme_examples.main(["--write", "--readme", str(readme)]) == 0
    expected = TEXT.replace("first poem\n\nsecond poem\n", "new poem\n")
    assert readme.read_text(encoding="utf-8") == expected


def test_the_readme_has_examples_to_rerun():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").split("\n")
    commands = [e.command for e in readme_examples.examples(lines)]
    assert any(c.startswith("lstmkit poem") for c in commands)
    assert not any("runs/" in c for c in commands)
