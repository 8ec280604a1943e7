"""`python -m capo_worker` is the `capo-worker` command."""

from capo_worker.cli import main

main()
