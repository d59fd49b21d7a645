"""The application around the live pipeline: ``config`` (schema, presets, the
command line), ``controls`` (MIDI and terminal bindings, MIDI learn), ``session``
(crash-safe capture to a MIDI file), ``ui`` (the terminal view), ``runner``
(config + ports -> engine, and ``midi-assistant run``), ``memtrace`` (memory sites
for the soak)."""
