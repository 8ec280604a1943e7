"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 16
SCHEMA_CHECKSUM = "49875e65f6be05967dd73909b1a47435f3dccd54ab3c99c26bf362cef2c3b9ed"
