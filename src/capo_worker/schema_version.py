"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 5
SCHEMA_CHECKSUM = "edd2aa02090ac6a04ca1e3884ee33f09b0c261668df1228015044f060dcd9af2"
