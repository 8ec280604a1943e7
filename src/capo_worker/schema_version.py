"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 8
SCHEMA_CHECKSUM = "72c9ab821a9c28e73de4b59693373c3d73bdea196ce503a41679adcc2e0b90cf"
