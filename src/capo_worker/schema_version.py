"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 15
SCHEMA_CHECKSUM = "5102c3401ee814d86d1f9a1d7ebc4d046108a5c888ca9738f1d19854234a0e4b"
