"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 15
SCHEMA_CHECKSUM = "14da76349c27bacec9ae3ccef619a922ee8e8138b321a15a48dac2fd908db1e8"
