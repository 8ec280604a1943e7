"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 4
SCHEMA_CHECKSUM = "4e8d1cd0365da3521e30deaec0417008714df104b2c4b08992f1ef1b315c7ecc"
