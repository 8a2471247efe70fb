"""The CLI line says the status as a promise and lists the checks behind it."""

from __future__ import annotations

from agent.cli import show

RESULT = {"question": "What is 17 * 23?", "standalone_question": "What is 17 * 23?", "route": "reason",
          "route_scores": {"reason": 0.98}, "answer": "17 * 23 = 340", "final_answer": "391",
          "status": "verified", "citations": [], "notes": [], "usage": {"total": {"seconds": 1.0}},
          "checks": [{"name": "arithmetic", "outcome": "failed", "detail": "17 * 23 = 391 exactly, not 340"},
                     {"name": "corrected", "outcome": "passed", "detail": "the exact value 391 is given"}]}


def test_status_label_and_checks_are_printed(capsys):
    show(RESULT)
    out = capsys.readouterr().out
    assert "status: Verified" in out and "final answer: 391" in out
    assert "✗ arithmetic: 17 * 23 = 391 exactly, not 340" in out and "✓ corrected" in out


def test_an_unverified_final_answer_is_marked_as_such(capsys):
    show({**RESULT, "status": "unverified", "checks": [], "final_answer": "340"})
    out = capsys.readouterr().out
    assert "status: Unverified" in out and "final answer (unverified): 340" in out
    show({**RESULT, "status": "not_grounded", "final_answer": None, "route": "knowledge"})
    assert "status: Not covered" in capsys.readouterr().out
