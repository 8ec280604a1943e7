"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 7
SCHEMA_CHECKSUM = "7a7b43c47f41f611e24e4af5b572964ccfbe83633c9a6b6469ca811c22eae8b6"
