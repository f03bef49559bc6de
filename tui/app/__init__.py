"""The Textual front end: a thin layer mapping core data to widgets and keys to core calls."""
