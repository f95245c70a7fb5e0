"""The plugin's own hooks. Implement them in a conftest.py or a plugin."""
from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_rltask_report(config: pytest.Config, report: dict[str, Any]) -> None:
    """Called once on the controller at the end of a session with rollouts, with the JSON report
    (the same dict ``--rl-report`` writes): post it to a dashboard, attach it to CI, etc."""
