"""The OpenAI objects of an answer carry what the agent adds, the trust contract included."""

from __future__ import annotations

from agent.api.responses import Completion, corecover_fields


def test_status_and_checks_ride_in_the_corecover_object():
    checks = [{"name": "arithmetic", "passed": True, "detail": "17 * 23 = 391 recomputed"}]
    result = {"answer": "391", "route": "reason", "status": "verified", "checks": checks,
              "usage": {"total": {"prompt_tokens": 10, "completion_tokens": 5}}, "thread_id": "t-1"}
    response = Completion("t-1").response(result)
    assert response["corecover"]["status"] == "verified" and response["corecover"]["checks"] == checks
    assert response["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    last = corecover_fields(result, "t-1", full=True)
    assert last["checks"] == checks and last["answer"] == "391" and last["thread_id"] == "t-1"
    assert "checks" not in corecover_fields({"answer": "x"}, "t-2")     # absent stays absent
