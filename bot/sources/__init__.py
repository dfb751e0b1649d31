"""Paper sources: polite fetching (fetch.py, I/O) and parsing/ (pure: bytes in, papers out)."""
