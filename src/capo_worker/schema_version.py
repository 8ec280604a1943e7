"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 17
SCHEMA_CHECKSUM = "5527a11ee5bfc81b1839f49becf6b502a5f905cc3ed26bf8e35d918304e64b61"
