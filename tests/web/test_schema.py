"""Schemathesis against the served OpenAPI schema, with each agency's token: no 5xx, every answer as declared.

Every operation of ``/api/v1/openapi.json`` gets requests made from its schema (valid ones, and invalid ones that
must be refused), sent to a real ``likeness serve`` with the owner's admin token of Stars, then of Voices; each
answer must have a declared status code and content type, and a body that matches the declared schema. Both
agencies have detections, so that the lists have rows to show and small ids name the other agency's.

Nothing leaves loopback: every URL a request would make the server fetch (a source to watch, a page to scan) is
pointed at 127.0.0.1 first, which the fetcher refuses without connecting. The examples are derandomised (the same
requests every run), few per operation and not shrunk, so the test stays fast; ``LIKENESS_FUZZ_EXAMPLES=500`` runs
more, new ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.fuzzing import fuzz
from tests.web.conftest import Agency, Server, found_detection

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CONFIG = {  # schemathesis's own settings (no schemathesis.toml is looked for)
    "generation": {"deterministic": True, "no-shrink": True, "database": "none"},
    "phases": {"stateful": {"enabled": False}},  # one request at a time: each answer checked on its own
    "request-timeout": 120,
}
URL = re.compile(r"^(https?)://", re.IGNORECASE)


@pytest.fixture(params=["Stars", "Voices"])
def agency(request, agencies: dict[str, Agency]) -> Agency:
    """The agency whose token the requests carry; each agency has three detections of its performer."""
    for each, sha_bytes in zip(agencies.values(), (("ab", "cd", "ef"), ("12", "34", "56")), strict=True):
        for sha_byte in sha_bytes:
            found_detection(each, sha_byte)
    return agencies[request.param]


@pytest.fixture
def api_schema(request, server: Server, agency: Agency) -> Iterator[schemathesis.BaseSchema]:
    """The schema as the server serves it; the end of the server's log is printed (shown when the test fails)."""
    # schemathesis 4.32.5 reads and renames the test's `node._nodeid`, which pytest 9.2 no longer has
    request.node._nodeid = request.node.nodeid
    yield schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json", timeout=120,
                                        config=schemathesis.Config.from_dict(CONFIG))
    if log := server.log.read_text():
        print("likeness serve's log (the end):\n" + log[-20_000:])


schema = schemathesis.pytest.from_fixture("api_schema")


def _on_loopback(body: object) -> object:
    """``body`` with every http(s) ``url`` in it pointed at 127.0.0.1 (same scheme, same length)."""
    if isinstance(body, dict):
        return {key: _loopback_url(value) if key == "url" else _on_loopback(value) for key, value in body.items()}
    if isinstance(body, list):
        return [_on_loopback(item) for item in body]
    return body


def _loopback_url(value: object) -> object:
    if not isinstance(value, str) or not (match := URL.match(value)):
        return value
    start = f"{match.group(1)}://127.0.0.1:9/"
    return start + "x" * max(0, len(value) - len(start))


@schema.parametrize()
@settings(fuzz(25), phases=[Phase.explicit, Phase.generate])  # no shrinking: a failure shows its request as sent
def test_every_answer_is_declared_and_none_is_a_server_error(case, server: Server, agency: Agency):
    case.body = _on_loopback(case.body)
    case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {agency.token}"},
                           checks=CHECKS, timeout=120)
