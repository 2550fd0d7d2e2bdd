"""pytest's shared fixtures, registered here; they and the helpers tests import are in tests/support/common.py."""

import pytest

from tests.support.common import query, real_results_warehouse  # noqa: F401 (fixtures, found here by name)


@pytest.fixture(autouse=True)
def _dagster_defs_state_storage_reset():
    """Each test starts and ends without a current Dagster defs-state storage: `with instance_for_test()`
    sets one on entry and its exit does not unset it, so the next test that builds Definitions in-process
    would reach a disposed instance ("Attempted to resolve undefined DagsterInstance weakref")."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield
