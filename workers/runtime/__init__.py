"""What runs the engine: the Dramatiq actors (`actors`), the periodic maintenance in each worker
(`maintenance`) and the supervisor that `make run` starts (`supervise`).

May import: everything below it (workers.ops, workers.jobs, …); nothing imports it but the entry points.
"""
