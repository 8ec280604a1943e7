"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 14
SCHEMA_CHECKSUM = "8ef4dcdffbcbeb4f3c20fed67cc0ba6af34ec1a963d4611d578e93a8127c8f47"
