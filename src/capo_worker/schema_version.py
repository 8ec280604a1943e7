"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 16
SCHEMA_CHECKSUM = "8a130a6d15099fa9b16e12f1390633bf6fb0f3ebd16dc7d44a74397337d48fa4"
