"""What people read, made from a run's (or a campaign's) directory alone: ``terminal`` (live
progress, tables and verdict lines, with rich), ``timeline`` and ``lanes`` (a history as lanes,
bars and marks), ``chart`` (their SVG geometry), ``curves`` (a benchmark's makespan against N),
``html`` and ``pages/`` (the HTML pages, jinja2), ``archive`` (one archive of a run for an
upstream issue)."""
