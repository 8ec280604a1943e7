"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 9
SCHEMA_CHECKSUM = "ea2a0094accbb798cce42b792aea5317cd5cec8ac87180ae4dc17386d90e4f3d"
