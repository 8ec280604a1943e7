"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 15
SCHEMA_CHECKSUM = "1dd1b30ef7b01c87d72a29c0cddf7afea410f67884cc8af77993ef8f37cd9adb"
