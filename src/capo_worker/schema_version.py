"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 2
SCHEMA_CHECKSUM = "b9d371099faae4e0c4d7c6e7a1b712c84d15b70c19aebc8d9e43f3417684bbb1"
