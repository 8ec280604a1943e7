"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 10
SCHEMA_CHECKSUM = "1a0c01c61d40df999dcbb8e513635d153542ff5ec8108fb1e0b6c2bc90ddb4bd"
