"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 11
SCHEMA_CHECKSUM = "c254e3c0483fe2e22ab3f6abf6f1e3487893bad65e2d849853fb0ea96a639a1f"
