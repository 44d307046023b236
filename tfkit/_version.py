"""tfkit's version, in a module of its own so that modules needing it never import the package itself.

``from tfkit import __version__`` inside the package would make ``tfkit/__init__.py`` (which imports the
workflow) and its importer a cycle; ``tfkit.__version__`` is re-exported from here for users.
"""

__version__ = "0.1.0"
