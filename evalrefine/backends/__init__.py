"""Concrete model backends. Each implements :class:`evalrefine.core.scoring.protocols.ScoringBackend`.

Heavy libraries (torch, transformers) are imported inside the modules that need them, and those
modules are imported only when a backend is actually loaded (see :mod:`evalrefine.backends.registry`).
"""
