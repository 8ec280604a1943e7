"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 15
SCHEMA_CHECKSUM = "6cf3a4b91297362f360ca86884ebf7a1e66db33e546303b2b69635eccea6a249"
