"""Fixtures of the scripts_app tests that talk to a real server."""

import pytest

from tests.support.servers import DaphneServer


@pytest.fixture
def server(team):
    """A real Daphne server (subprocess) on the test database, with the team in it."""
    with DaphneServer() as srv:
        yield srv
