"""One module per subcommand of ``midi-assistant``: ``add_arguments(parser)`` and ``run(args)``."""
