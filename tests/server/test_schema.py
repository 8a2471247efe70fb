"""A bounded schemathesis run against the live server's OpenAPI schema: no input gives a 5xx."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = {"POST /v1/chat/completions": 6}   # each positive case runs the real agent
DEFAULT_EXAMPLES = 10


def aim_at_the_agent(case):
    """Name the served model in valid bodies, so generated messages reach the agent (not a 404)."""
    if isinstance(case.body, dict) and isinstance(case.body.get("model"), str):
        case.body["model"] = "corecover"
    return case


def fuzz(operation, strategy, base: str, headers: dict, statuses: list[tuple[int, str]]) -> None:
    """Call one operation with ``max_examples`` drawn requests; record (status, summary)."""
    from hypothesis import HealthCheck, Phase, given, settings

    label = f"{operation.method.upper()} {operation.path}"

    @settings(max_examples=EXAMPLES.get(label, DEFAULT_EXAMPLES), deadline=None, database=None,
              derandomize=True, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def call(case) -> None:
        response = case.call(base_url=base, headers=headers, timeout=120)
        statuses.append((response.status_code, f"{label} {case.body!r:.300} -> {response.text[:300]}"))

    call()


def test_no_generated_request_gets_a_server_error(live):
    import schemathesis
    from schemathesis import GenerationMode

    headers = {"Authorization": f"Bearer {live.key}"}
    schema = schemathesis.openapi.from_url(f"{live['main']}/openapi.json", headers=headers)
    statuses: list[tuple[int, str]] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /v1/chat/completions", "GET /v1/models", "GET /api/threads", "GET /healthz"}
    for operation in operations:
        strategies = [operation.as_strategy(generation_mode=GenerationMode.POSITIVE).map(aim_at_the_agent),
                      *schema.get_strategies_from_examples(operation)]
        if operation.body or operation.path_parameters or operation.query:   # something to get wrong
            strategies.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        for strategy in strategies:
            fuzz(operation, strategy, live["main"], headers, statuses)
    print(sorted(Counter(status for status, _ in statuses).items()))
    server_errors = [summary for status, summary in statuses if status >= 500]
    assert not server_errors, "\n".join(server_errors)
    assert any(status == 200 and "chat/completions" in s for status, s in statuses)  # the agent answered
