"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 9
SCHEMA_CHECKSUM = "ea0867aa573dfb70ad880890168ce0e139f8bdccf43bd7f7ad2c94a9b34c760b"
