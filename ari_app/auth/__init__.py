"""The console's people: users and roles, password hashing, server-side sessions, CSRF, login
throttling, service tokens and the audit trail. Depends on ``store`` only."""
