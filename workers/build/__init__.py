"""Building one project folder, knowing nothing of jobs, users or notifications: the strict zip
extractor (`archive`), the sandbox and its limits (`sandbox`, `runner`, `disk_budget`), the install's
network (`egress_proxy`, `install_policy`), the dependency cache (`deps_cache`), tool diagnostics
(`diagnostics`), publishing the output as plain files (`publishing`, `site_collector`), and the
steps themselves, extract → install → type check → build → publish (`steps`).

May import: workers.store, workers.config, workers.net, workers.errors, workers.text.
"""
