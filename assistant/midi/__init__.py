"""The MIDI edge: ports and wires, knowing nothing of the engine.

``ports`` opens our ports through python-rtmidi (ALSA, CoreMIDI, Windows, JACK) and
the port contract the engine uses; ``jackmidi`` (with ``_jackmidi.c``) is the native
JACK client that stamps input with its frame's time and places output on its frame;
``wire`` turns one event's bytes into a message or junk; ``portwatch`` reattaches
ports that vanish; ``fakeports`` are in-process stand-ins for fast tests;
``midifile`` reads and writes MIDI files in engine ticks. Input callbacks only
stamp and enqueue.
"""
