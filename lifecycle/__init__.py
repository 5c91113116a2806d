"""How the KServe services start serving and how they stop: drain on SIGTERM."""
