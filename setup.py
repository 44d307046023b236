"""Build of tfkit's one optional C extension; everything else is declared in pyproject.toml.

``tfkit.policy._scan`` is the secret pre-filter in C (measured in benchmarks/bench_policy.py). It is
optional: where no C compiler is found the build goes on and ``tfkit.policy._detect`` uses its Python scanner.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("tfkit.policy._scan", ["tfkit/policy/_scan.c"], optional=True)])
