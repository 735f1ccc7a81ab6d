"""The console scripts: thin absl entry points over the library (flags and messages only).

``kcnn-train`` (kcnn.cli.train), ``kcnn-export`` (kcnn.cli.export), ``kcnn-predict``
(kcnn.cli.predict). Each keeps its flags in its own ``FlagValues``, answers ``--help``
without importing TensorFlow, and reports a usage error in one line with exit status 2.
"""
