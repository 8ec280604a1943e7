"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 18
SCHEMA_CHECKSUM = "ca9109af90a92da7be901780b65d53e48a505d7bfd161cbd9f125bdd92b36c2a"
