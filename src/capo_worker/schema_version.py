"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 14
SCHEMA_CHECKSUM = "19e5d773dc826e6a80997ea61971cf47825d916efa488be94ac4c4c843ea00dc"
