"""The HTTP API, mounted on the Reflex backend (same port) through `api_transformer`."""
