"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 14
SCHEMA_CHECKSUM = "415162d26a725ebb8d6d56684cc5e45d74495ba1ec5e4fde9ee50d87a36e1fd2"
