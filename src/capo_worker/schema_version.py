"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 12
SCHEMA_CHECKSUM = "a385567c08209f55ef82a13af6ae250ace41ca382f759fdda7d5d00e2de0803f"
