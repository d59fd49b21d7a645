"""The real-time pipeline, in data-flow order: ``capture`` (timestamped messages to
notes and phrases) -> ``engine`` (its thread: the inbox, the lanes, the snapshot) ->
the lanes (``generator`` and ``model`` for the melody, ``harmony_lane``,
``accompanist`` and ``chord_model`` for the chords) -> ``planner`` (humanised,
placed, never late; ``alignment``: where the DAW records what we send) ->
``scheduler`` (one thread sending on time). Each module states its threads.
"""
