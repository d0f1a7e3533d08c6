"""The webbuilder engine: plain Python, no Reflex.

Models, scheduling, archive handling, the build pipeline and the Dramatiq actors live here so the web
app, the CLI, the workers and the tests share one implementation.
"""
