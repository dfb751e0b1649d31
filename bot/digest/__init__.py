"""What a reader gets: digest assembly, ranking, highlighting, send times and rendering (pure)."""
