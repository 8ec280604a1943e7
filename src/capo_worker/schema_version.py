"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 15
SCHEMA_CHECKSUM = "4813f40f3c784dc3060f6b7da1b71fd844572c4e164949b74fe1204d458c148b"
