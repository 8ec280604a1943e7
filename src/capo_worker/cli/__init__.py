"""The `capo-worker` command: cli/app.py names every command and its module."""

from capo_worker.cli.app import app, main

__all__ = ["app", "main"]
