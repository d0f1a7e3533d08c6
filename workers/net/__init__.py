"""Addresses: which client a request came from behind trusted proxies (`client_address`) and which
destinations the service's own outgoing connections may reach (`egress`).

May import: nothing of the project's (it sits below workers.config, which parses address lists with it).
"""
