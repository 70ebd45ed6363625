"""Delivery of change events to the application: SETs signed from the
outbox's rows (:mod:`shared.delivery.sets`) and the in-process signal that
wakes waiting polls when a change commits (:mod:`shared.delivery.signal`)."""
