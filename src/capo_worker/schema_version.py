"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 4
SCHEMA_CHECKSUM = "a913228766f49f8fc682a88550f9621678bd444b0fbbd1405d5de7d43d7c97bc"
