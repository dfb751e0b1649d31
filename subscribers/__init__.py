"""The subscriber side: sign-up, double opt-in, managing interests, unsubscribing, imports."""
