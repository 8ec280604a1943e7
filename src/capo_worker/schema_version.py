"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 17
SCHEMA_CHECKSUM = "1d188ced1014f7670c1a7128a39b3000fac73a88e955f561476cb615128fd13a"
