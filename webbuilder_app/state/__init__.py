"""Reflex state: thin glue over the engine in `workers/`."""
