"""scripts/robustness.py rewrites RELIABILITY.md and keeps its History section."""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import robustness


def test_a_new_report_keeps_the_history_written_by_people(tmp_path):
    path = tmp_path / "RELIABILITY.md"
    path.write_text("# Reliability\n\nold table\n\n## History\n\nA kill once lost a summary; fixed.\n\n"
                    "## Memory\n\nold memory\n", encoding="utf-8")
    for _ in range(2):  # twice: the section is carried, not doubled
        robustness.write_report(path, [("fuzz: corpus readers", Counter(poems=2, refused=1), [])],
                                "python scripts/robustness.py", 30.0, ["new memory"])
    text = path.read_text(encoding="utf-8")
    assert text.count("## History") == 1 and "A kill once lost a summary; fixed." in text
    assert "old table" not in text and "old memory" not in text and "new memory" in text
    assert not list(tmp_path.glob("*.partial"))


def test_a_report_without_history_has_none(tmp_path):
    path = tmp_path / "RELIABILITY.md"
    robustness.write_report(path, [], "cmd", 1.0, [])
    assert "## History" not in path.read_text(encoding="utf-8")
