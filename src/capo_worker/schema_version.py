"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 4
SCHEMA_CHECKSUM = "2e7bdf586eff66c3fbf8b577824bb128047e61b42a010fa178adbc15ac7f48ef"
