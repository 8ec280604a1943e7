"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 13
SCHEMA_CHECKSUM = "48cb27a167c73cecfbae89bd7ca00459b22b36add31d51cb8812ade8af3117cb"
