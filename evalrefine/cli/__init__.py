"""The command-line front end: parses flags, drives the core, renders results with rich."""
