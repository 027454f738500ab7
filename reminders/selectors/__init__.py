"""Reads: queries and previews that write nothing."""
