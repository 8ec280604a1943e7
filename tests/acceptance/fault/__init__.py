"""Fault-injection scenarios (issue 6): real processes, a real PostgreSQL, figures in docs."""
