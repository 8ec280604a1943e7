"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 14
SCHEMA_CHECKSUM = "7e5c45e9496493b1e9fe9c4bdd51184e6a8b970dfea2589041b4e1e5ca42fd7c"
