"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 10
SCHEMA_CHECKSUM = "3e66312eccac640d282e1337dc82a90a26b6b8d9f29b4c7cfabc7b572eb56423"
