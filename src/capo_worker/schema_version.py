"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 17
SCHEMA_CHECKSUM = "6ce7bce4caead2e7d33f896f4639452242bdee13cb3b6f7a438396a9e307c868"
