"""Users and signing in: accounts and API tokens (`users`), browser sessions (`sessions`), password
hashing on a bounded pool (`passwords`), sign-in and sign-up limits (`login_throttle`).

May import: workers.notify (its mailer, for confirmation links), workers.store, workers.config and
below.
"""
