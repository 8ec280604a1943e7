"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 16
SCHEMA_CHECKSUM = "c9eabfd139ab54688911a0a0b0cbbbfbf397c4076f4a25fcfe4d556984b2a3f5"
