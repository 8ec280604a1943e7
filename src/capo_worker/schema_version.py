"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 19
SCHEMA_CHECKSUM = "0fe06c6d69c1772eb6909ca84849a4f76c22de25fdfae1e11e627764e500c7c8"
