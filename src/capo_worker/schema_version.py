"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 13
SCHEMA_CHECKSUM = "27a5f4183d9ecc0738ef47caa4a5a795cb78c8f74a2eb4246b2bd974e596db55"
