"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 19
SCHEMA_CHECKSUM = "4cbd2c352ce6495005061fc7d8d2af3863b67e289c36c67be6cb8a40432a90db"
