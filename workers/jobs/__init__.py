"""A job's lifecycle, the layer that calls build, queue and notify: intake of an upload (`intake`),
submit, cancel and retry (`lifecycle`), what users read of them (`views`), running a job's build steps and recording their progress (`pipeline`),
identical uploads (`build_cache`), per-user quotas (`quotas`) and reaping the jobs of dead workers
(`reaper`).

May import: workers.accounts, workers.notify, workers.queue, workers.build, workers.store and below.
"""
