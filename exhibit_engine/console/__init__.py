"""The operator's console: the ways into the controller that are not ``exhibit ctl``.

Every module here runs in the controller's process, off its loop thread, and sends each
command through the one command path (``sync._local``): OSC from show consoles
(:mod:`.osc`) and the Prometheus exposition of a ``status`` reply (:mod:`.metrics`).
"""

__all__: list[str] = []
