"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 12
SCHEMA_CHECKSUM = "b7447e18f6a2f7dc6924ac47b6d140ad7776a1b3b9e62a75982a9e76b650da9c"
