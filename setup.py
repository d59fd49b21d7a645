"""Builds the one native part: assistant/_jackmidi (see assistant/midi/jackmidi.py).

Optional: without a C compiler the install still succeeds and the JACK backend
falls back to python-rtmidi (one JACK client per port). The module is a plain
shared library loaded with ctypes, so it needs no JACK or Python headers.
"""

import sys

from setuptools import Extension, setup

extensions = []
if sys.platform.startswith("linux") or sys.platform == "darwin":
    extensions.append(Extension(
        "assistant.midi._jackmidi",
        sources=["assistant/midi/_jackmidi.c"],
        extra_compile_args=["-O2", "-std=c11", "-Wall"],
        libraries=["dl"] if sys.platform.startswith("linux") else [],
        optional=True,
    ))

setup(ext_modules=extensions)
