"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 14
SCHEMA_CHECKSUM = "92bda4257af04b3788fccfe65b3cbd87179a841b2980deb81bb8016257fadf69"
