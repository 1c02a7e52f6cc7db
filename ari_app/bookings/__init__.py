"""Calls that became appointments: pure rules linking the scheduler's booking events to calls
(``linking``) and proposing each call's opportunity class (``classify``). No I/O, no clock
reads; the store's queries feed them."""
