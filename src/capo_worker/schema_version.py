"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 10
SCHEMA_CHECKSUM = "43c73770711d49f9668e32e3e9b4c0379e95476c43c670df72cad04a80402872"
