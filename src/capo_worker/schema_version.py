"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 8
SCHEMA_CHECKSUM = "7b1336654dbb609bd4c0b5f6a4ef18029aad16da894d5974913ff9acd3ee6e75"
