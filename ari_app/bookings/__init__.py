"""Calls that became appointments: the scheduler's booking events, their links to the calls that
brought them, and each call's opportunity class.

``linking`` and ``classify`` are the pure rules; ``schema`` the feed's input; ``signature`` how a
signed feed is checked; ``store`` (one event, one call) and ``relink`` (everything since a date)
keep links and classes in the database; ``opportunity`` the admins' corrections and their report;
``csvimport`` the feed from a file."""
