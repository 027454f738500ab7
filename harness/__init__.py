"""
What measures and tests the service from outside, and is no part of it: the
benchmarks (``bench/``), the fault scenarios (``faults/``), the Twilio fake
(``fakes/twilio.py``) and the processes they all start (``processes.py``).

Not in the wheel and not in the production settings: ``project.settings.harness``
(``make bench``, ``make chaos``) and ``project.settings.test`` install it.
"""
