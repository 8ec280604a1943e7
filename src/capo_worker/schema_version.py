"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 6
SCHEMA_CHECKSUM = "72db02cdca141fd85acf823371c36114e8ce079ad7c43f666e21d4971563b793"
