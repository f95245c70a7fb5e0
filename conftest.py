"""Repository root conftest: project-wide settings for tasks/ and tests/."""
pytest_plugins = ["pytester"]
