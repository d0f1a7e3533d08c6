"""Use cases: one function each, called alike by the HTTP API, the Reflex state and the CLI.

Every function that reads or changes a user's data takes the acting user (a `workers.store.models.User`
established by the caller from a session or token, never an id a client sent) and scopes every id it
is given to that user: another user's object is "not found". Each opens its own transaction and
publishes its change notices after the commit.

May import: every engine layer below (workers.ops, workers.jobs, workers.accounts, workers.notify,
workers.queue, workers.build, workers.store, workers.config, workers.net, workers.errors). Must not
import workers.runtime, the web app or Reflex. The web app and the CLI import the engine only here
(plus config, errors and the record types of workers.store.models): see pyproject.toml's contracts.
"""
