"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 18
SCHEMA_CHECKSUM = "3cf863265242e6b8febcdafca4e12b3bf236a5729b9a4cd76de88a52073a4d6d"
