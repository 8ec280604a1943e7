"""The schema version of this build (docs/operations.md, "Schema versions").

Written by `make schema` (tests/support/schema_dump.py) whenever a migration or a
function file changes: do not edit by hand.
"""

SCHEMA_VERSION = 14
SCHEMA_CHECKSUM = "752fb5589b0414329a743592a82aaadc008dba6d094b17e03ecdf560afc612f5"
