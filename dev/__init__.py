"""Development tools, run from the checkout and never installed into an image.

``python -m dev`` (``make run``) brings up the local stack: every service as a plain process on
127.0.0.1 with the entrypoint and flags its container uses (:mod:`dev.stack`, :mod:`dev.processes`).
:mod:`dev.config_table` writes the README's configuration table; :mod:`dev.adversarial` holds the
hostile texts the tests and the benchmark use.
"""
