"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 13
SCHEMA_CHECKSUM = "ed9413a6c2685029b14f04b280d37666bd83eb2826bd99b981dd91dcd7e8ce34"
