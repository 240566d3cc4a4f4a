"""``promptwire eval``: promptfoo's eval (prompts x tests x providers, graded) for HTTP and WebSocket targets.

One job per module: ``config`` reads the promptfoo config, ``assertions``
grades, ``runner`` runs rows on the shared concurrency engine
(``promptwire.workpool``), ``outputs`` writes results, ``report`` draws the
progress bar and the summary, ``command`` is the CLI.
"""
