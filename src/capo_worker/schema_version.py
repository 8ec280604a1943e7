"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 22
SCHEMA_CHECKSUM = "a80c85573b75fb532a4a915d24e491c9574e69671d935072f285b381b588374c"
