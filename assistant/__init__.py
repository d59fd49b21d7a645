"""midi-assistant: a real-time, DAW-side melody and harmony assistant over MIDI."""

__version__ = "0.1.0"
