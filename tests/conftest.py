"""pytest's shared fixtures, registered here; they and the helpers tests import are in tests/support/common.py."""

from tests.support.common import query, real_results_warehouse  # noqa: F401 (fixtures, found here by name)
