"""Linting whole eval repositories: discovery, format readers, scoring, reports and fixes."""
