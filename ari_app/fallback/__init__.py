"""Calls the dialplan's fallback took while the app was down, from Asterisk's own records.

``cdr`` defines the records (the cdr_custom mapping rendered into asterisk-config/) and reads
them into calls, purely; ``importer`` brings new records into the database exactly once.
"""
