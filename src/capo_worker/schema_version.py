"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 16
SCHEMA_CHECKSUM = "5a76974db3f90a51532b5e34f2fbf535a136876acdd6fd6ecfe34cac57e32165"
