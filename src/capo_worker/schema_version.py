"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 5
SCHEMA_CHECKSUM = "d0da85decbb76ddca7945dd56ea8a827738c52072ffcebdd22e6069ae27c4f48"
