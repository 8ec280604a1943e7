"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 8
SCHEMA_CHECKSUM = "cbba9692b005612e48489d5b9141de8192a3b6f7d2fa9e88758dbd75ee53b14b"
