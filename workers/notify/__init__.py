"""Telling users: the bell's notifications (`bell`), webhook and email deliveries recorded in the
ending job's transaction and sent by a Dramatiq actor (`deliveries`), webhook URLs and signing
(`webhooks`) and the mailer (`mailer`).

May import: workers.store, workers.config, workers.net, workers.errors, workers.text. Deliveries are
sent by actor name through workers.store.broker, never by importing the actors.
"""
