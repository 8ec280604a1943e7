"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 13
SCHEMA_CHECKSUM = "97d82a3df94cd017ed505a91a879ad1e3219f4ddccad64b6cb6aff8f7834a221"
