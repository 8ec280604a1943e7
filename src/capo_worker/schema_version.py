"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 11
SCHEMA_CHECKSUM = "ee80f30612554322a0bc8bf328983cda0080a9060c451f0568f5768be91f8fa9"
