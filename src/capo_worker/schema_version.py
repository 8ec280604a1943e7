"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 13
SCHEMA_CHECKSUM = "c3c941c7abc5b2344c84b75027a59e3a6e89a0ae2f6ef994d1781ab7962e5911"
