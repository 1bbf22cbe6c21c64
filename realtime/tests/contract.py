"""pytest plugin: every server message the consumer sends during the test run is checked against
its JSON Schema in the AsyncAPI document (realtime.protocol.asyncapi). A message of a type the document
does not describe, or one that does not match, fails the run; when the whole realtime suite ran,
so does a described event that no test produced."""

import json
from pathlib import Path

import jsonschema
import pytest

# Django is set up after plugins load: the project's modules are imported when first needed.

TESTS_DIR = Path(__file__).resolve().parent
_seen = {}  # event type -> count
_violations = []


def check(text):
    from realtime.protocol import asyncapi

    message = json.loads(text)
    event_type = message.get("type")
    _seen[event_type] = _seen.get(event_type, 0) + 1
    if event_type not in asyncapi.SERVER_EVENTS:
        _violations.append(f"{event_type!r} is not described in the AsyncAPI document: {text[:300]}")
        return
    try:
        jsonschema.validate(message, asyncapi.server_event_schema(event_type))
    except jsonschema.ValidationError as exc:
        _violations.append(f"{event_type}: {exc.message} at {list(exc.absolute_path)} in {text[:300]}")


@pytest.fixture(autouse=True, scope="session")
def record_sent_events():
    from realtime.connections.consumers import RealtimeConsumer

    original = RealtimeConsumer.send_text

    async def send_text(self, text, event_type, **kwargs):
        check(text)
        return await original(self, text, event_type, **kwargs)

    RealtimeConsumer.send_text = send_text
    yield
    RealtimeConsumer.send_text = original


def _ran_the_whole_realtime_suite(session):
    ran = {Path(str(item.fspath)).resolve() for item in session.items}
    return all(path in ran for path in TESTS_DIR.glob("test_*.py"))


def pytest_sessionfinish(session, exitstatus):
    from realtime.protocol import asyncapi

    problems = list(_violations)
    if _seen and _ran_the_whole_realtime_suite(session) and not session.config.option.keyword:
        never = sorted(set(asyncapi.SERVER_EVENTS) - set(_seen))
        problems += [f"{name}: described but never produced by any test" for name in never]
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_sep("=", "AsyncAPI contract violations", red=True)
        for problem in problems:
            reporter.write_line(problem)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
