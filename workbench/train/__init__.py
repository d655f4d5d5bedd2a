"""Train: the ``Trainer`` interface (training code lives in plugins) and a trainer's Config
fields as command-line settings."""
