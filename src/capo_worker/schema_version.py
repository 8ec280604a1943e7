"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 7
SCHEMA_CHECKSUM = "8ca1d70d6176a8ef15860343b0021a61e66d7cfa1d023d94f9e494543c879b10"
