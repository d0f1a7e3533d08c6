"""The operators' read model: the Ops dashboard (`dashboard`) and the Prometheus metrics (`metrics`).

May import: workers.jobs and everything below it.
"""
