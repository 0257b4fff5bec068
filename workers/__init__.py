"""Run modes that keep going: ``python -m workers``, the long-running service.

``workers.service`` runs the main job on the schedule in ``config.toml`` and serves
``/healthz`` and ``/metrics``; ``workers.schedule`` says when the next tick is;
``workers.metrics`` renders the Prometheus page.
"""
