"""The plugin's own tests need no API: all of them belong to the offline suite."""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.offline)


@pytest.fixture(autouse=True)
def _pytester_tmpdir(request: pytest.FixtureRequest) -> None:
    """Sessions run by pytester keep their temporary folders under the test's own folder.

    Some tests kill a worker on purpose while rollouts are in flight; what a killed process could
    not remove then stays inside pytest's basetemp (which pytest prunes), not in the host's /tmp.
    """
    if "pytester" not in request.fixturenames:
        return
    pt = request.getfixturevalue("pytester")
    tmp = pt.path / ".tmp"
    tmp.mkdir(exist_ok=True)
    pt._monkeypatch.setenv("TMPDIR", str(tmp))  # noqa: SLF001 - pytester's own monkeypatch, undone with it
