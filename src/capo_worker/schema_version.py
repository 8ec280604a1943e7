"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 17
SCHEMA_CHECKSUM = "6d4fa62a6dcc6e9069bdd0466cff7f62263be08c4b9d8fee31c8222b28708c1b"
