"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 15
SCHEMA_CHECKSUM = "8230b90e3b014dcc6e0ef3972b248a7a62b94ae12a14cf2140a779e9906abfc7"
