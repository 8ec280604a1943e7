"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 16
SCHEMA_CHECKSUM = "15310dab0c95a5af8b2c709ab957bc0aa7394409bd41f7a8e591c560747aeb56"
