"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 13
SCHEMA_CHECKSUM = "c5ff51b7bbd8a78870321ab9894634d5cea59c14abcae39e1a0cc9bd4b91ff7e"
