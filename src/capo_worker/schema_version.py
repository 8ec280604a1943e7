"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 9
SCHEMA_CHECKSUM = "5bf801a4e3c3bc9ab1055a2020d96b5d4055402b7d353daa0df5a522f73b8ca8"
