"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 9
SCHEMA_CHECKSUM = "9e91f83122bbe231511eede05289ae9c5e9c880100dae713a31f252772d27fb2"
