"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 19
SCHEMA_CHECKSUM = "330ba3bdb992dba0dca36218298d415af186a1561b4a38c387dec2448fdddd8e"
