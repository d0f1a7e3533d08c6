"""`webbuilder`: drive builds from a terminal or a CI pipeline through the HTTP API."""
