"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 3
SCHEMA_CHECKSUM = "0347b1838c88dcc549b8413fa1a37dbea7ea339bceb8cd011e6597341885285d"
