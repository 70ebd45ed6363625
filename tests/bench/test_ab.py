"""``python -m bench.ab``: two code trees' CPU per request, side by side."""

from __future__ import annotations

import re
import subprocess

from bench import ab
from bench.harness import ROOT


def _worktrees() -> str:
    return subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_a_tree_against_its_own_revision_reports_both_sides_per_round_and_per_type_and_leaves_no_worktree(capsys):
    before = _worktrees()
    assert ab.main(["--base", "HEAD", "--rounds", "2", "--per-type", "2"]) == 0
    out = capsys.readouterr().out
    rounds = re.findall(r"round (\d)/2: base ([\d.]+) ms/request, this ([\d.]+), this/base ([\d.]+)", out)
    assert [r[0] for r in rounds] == ["1", "2"]
    assert all(float(base) > 0 and float(this) > 0 for _, base, this, _ in rounds)
    assert len(re.findall(r"this/base ([\d.]+|n/a .*)$", out, re.MULTILINE)) == 2 + 10  # the rounds, then each type
    assert _worktrees() == before  # the base revision's checkout is gone
