"""Which job runs next and when: the scheduler's claim, leases and fairness (`scheduler`), admission
by host load (`psutil_admission`), the queue's ETA model (`eta`), waking workers by actor name
(`wake`) and the workers' heartbeats (`heartbeats`).

May import: workers.store, workers.config and below.
"""
