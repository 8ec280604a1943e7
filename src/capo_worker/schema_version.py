"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 1
SCHEMA_CHECKSUM = "f255edf626065dfe06754944773249f6b828bd05e7f79f3203137d2be3314465"
