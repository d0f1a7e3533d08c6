"""The webbuilder engine: plain Python, no Reflex, in layers that import only downwards.

    services | runtime      one function per use case | actors, maintenance, supervisor
    ops                     the operators' dashboard and metrics
    jobs                    a job's lifecycle: intake, pipeline, build cache, quotas, reaper
    accounts                users, sessions, tokens, sign-in limits
    notify | queue | build  the bell and deliveries | scheduling and wakes | building a folder
    store                   models, database, files, change notices, broker
    config                  settings
    net | errors | text     addresses and egress rules | UserError | text helpers

pyproject.toml's import-linter contracts hold it (tests/unit/test_layers.py).
"""
