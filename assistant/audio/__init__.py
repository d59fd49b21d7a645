"""Sound without a DAW: the suggestions, the chords and (optionally) the player, played
through a General MIDI SoundFont synth to the audio output or rendered to a WAV file.

``soundfont`` finds a SoundFont; ``voices`` turns MIDI messages into samples
(tinysoundfont, or a small built-in voice); ``render`` writes timed messages to a
WAV file; ``monitor`` plays what the scheduler sends, live, from the audio thread;
``tap`` wraps an output port so that what goes to it also reaches the monitor.
"""
