"""The bottom of the engine: the records and how they are kept.

Holds the SQLModel tables (`models`), the database engine and sessions (`db`, `sqlite_writes`), the
job files' paths (`files`), change notices on Redis (`events`), the Dramatiq broker that lower layers
send messages through by actor name (`broker`), leases in Redis (`leadership`) and the server secret
(`server_secret`).

May import: workers.config, workers.net, workers.errors, workers.text. Nothing above.
"""
