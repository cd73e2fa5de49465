"""Custom domains: a store owner links a domain, proves it by DNS, and the store serves it.

`names` normalises and refuses names, `states` is the state machine of one domain, `dns` checks the
records, `sweep` re-checks pending domains and asks for the store action that serves verified ones.
The rows and their transactions live in app/db/domains.py; the routes in app/api/routes/domains.py.
"""
