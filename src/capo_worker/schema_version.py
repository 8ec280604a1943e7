"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 13
SCHEMA_CHECKSUM = "a891cb4b1c1e3ec1903dc4eec8f2f4854fb841830c18f2b2aef2e4970af516fb"
