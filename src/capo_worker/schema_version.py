"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 13
SCHEMA_CHECKSUM = "1fe2ee6108121bb21e21cbd586e4e2344ae5e50db5a67b0f8346beeb14a3f61b"
