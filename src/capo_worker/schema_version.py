"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 13
SCHEMA_CHECKSUM = "d1c2378ac0f1c42f8da24f926d411f861278b108e31c2cc0c4579ee4b595593f"
