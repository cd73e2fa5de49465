"""Accounts: password hashing, API tokens, the session cookie, CSRF and the first-admin bootstrap."""
