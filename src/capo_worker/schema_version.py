"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 18
SCHEMA_CHECKSUM = "241d42464a7c77dc448e9a3e2bcfdefc5b3e74d171840a885e65a6ca1a3df148"
