"""Use cases: one function each, called alike by the HTTP API, the Reflex state and the CLI.

Every function that reads or changes a user's data takes the acting user (a `workers.store.models.User`
established by the caller from a session or token, never an id a client sent) and scopes every id it
is given to that user: another user's object is "not found". Each opens its own transaction and
publishes its change notices after the commit.

May import: the engine's domain modules (accounts, sessions, jobs, intake, webhooks, deliveries,
events), store and config. Must not import the web app or Reflex.
"""
