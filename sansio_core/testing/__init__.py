"""A public test kit: one virtual-clock driver with record and replay, and in-memory h11 and
wsproto peers, so tests drive the core exactly as a binding does, with no sockets or clock.
"""
