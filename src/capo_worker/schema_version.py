"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 14
SCHEMA_CHECKSUM = "7e2b4c130fb04bba7c0001285a38d745d32ecaa3bc29c88fc0552a2ba4b393f1"
