"""Delivery channels: one folder per channel (email/, telegram/), each a sender plus composers keyed by kind."""
