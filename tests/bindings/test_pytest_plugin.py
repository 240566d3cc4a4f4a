"""The pytest plugin, run as a user runs it (pytester): record against the mock server, then
replay with no server, for sync tests and async ones under pytest-asyncio, pytest-trio and anyio."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# Runs with ``filterwarnings = error`` go to a subprocess: in process, a socket
# some earlier test leaked could be collected during the inner run and fail it.

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "pytest"


@pytest.mark.slow
def test_the_example_suite_records_then_replays_without_the_server(pytester: pytest.Pytester,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for item in ("pytest.ini", "test_chat.py"):
        shutil.copy(EXAMPLE / item, pytester.path / item)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-plugin-test-secret")
    recorded = pytester.runpytest_subprocess("--promptwire-record-mode=all")
    recorded.assert_outcomes(passed=7)
    cassettes = sorted(p.name for p in (pytester.path / "cassettes" / "test_chat").iterdir())
    assert "test_chat.yaml" in cassettes and "test_chat_anyio[trio].yaml" in cassettes
    assert all("sk-plugin-test-secret" not in p.read_text()
               for p in (pytester.path / "cassettes").rglob("*.yaml"))

    monkeypatch.delenv("OPENAI_API_KEY")
    replayed = pytester.runpytest_subprocess()  # default mode none: the mock server is not started
    replayed.assert_outcomes(passed=7)


def test_replay_only_without_a_cassette_fails_clearly(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_x="""
        def test_it(promptwire_target, promptwire_cassette):
            assert promptwire_cassette.path.parts[-3:] == ("cassettes", "test_x", "test_it.yaml")
            promptwire_target("http://127.0.0.1:9/x").call("hi")
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CassetteError: cassette *test_it.yaml does not exist*"])


def test_marker_options_and_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_y="""
        import pytest

        @pytest.mark.promptwire(path="recorded/custom.yaml", match_on=["method", "path"])
        def test_it(promptwire_cassette):
            assert promptwire_cassette.path.parts[-2:] == ("recorded", "custom.yaml")
            assert promptwire_cassette.match_on == ("method", "path")
            assert promptwire_cassette.record_mode == "new_episodes"
    """)
    result = pytester.runpytest_subprocess("--strict-markers", "-W", "error", "-p", "no:cacheprovider",
                                           "--promptwire-record-mode=new_episodes")
    result.assert_outcomes(passed=1)


def test_the_example_suite_as_shipped_replays(pytester: pytest.Pytester) -> None:
    """A user who copies docs/examples/pytest and runs plain ``pytest`` gets a passing, offline run."""
    for item in ("pytest.ini", "test_chat.py"):
        shutil.copy(EXAMPLE / item, pytester.path / item)
    shutil.copytree(EXAMPLE / "cassettes", pytester.path / "cassettes")
    pytester.runpytest_subprocess().assert_outcomes(passed=7)
