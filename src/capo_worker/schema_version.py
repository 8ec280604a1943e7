"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 20
SCHEMA_CHECKSUM = "2d39135ffe9de12ae406e598440a705dfd353e224bbc6f7b67aa3e1caaeae245"
