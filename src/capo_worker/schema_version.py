"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 18
SCHEMA_CHECKSUM = "51cdd0d7284e9b1c90709b1dc2f8de6261cb554bbf391da2f401e3cbb3c8aa7f"
