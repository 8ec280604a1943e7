"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 21
SCHEMA_CHECKSUM = "82d154aa144506ade2e916f351c74fbbc9c1751caaa3033062c60d996eedc901"
