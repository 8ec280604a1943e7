"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 15
SCHEMA_CHECKSUM = "4f6882a8a7fdb67e35a9bf945b2ecfaa3e4fc384e013d1f1d21532ab50c89fa8"
