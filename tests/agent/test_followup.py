"""Follow-up rules (pure functions, no model)."""

from __future__ import annotations

from agent.followup import needs_context, substitute_follow_up


def test_follow_up_rules():
    assert substitute_follow_up("What is 17 * 23?", "and what about 19?") == "What is 17 * 19?"
    assert substitute_follow_up("Who founded Microsoft?", "What about Apple?") == "Who founded Apple?"
    assert substitute_follow_up("What is 2 + 2?", "Tell me a joke") is None
    assert needs_context("when was he born?") and not needs_context("Who wrote Hamlet and when?")
