"""What the tests share that is not a fixture: servers on 127.0.0.1, made-up inputs, helpers and paths.

Fixtures live in conftest.py files (tests/conftest.py for all, a folder's own for that folder alone); no test
module imports another.
"""
