"""The demo projects runners build: templates rendered with jinja2 (``template``), what each
rendered checkout must give a runner that installs it (``identity``), what an installed
distribution is (``installed``: the probe's and the oracle's one describer), and what the lab
does to checkouts between runs (``checkouts``). Import the module you need: this package imports
nothing, so that the checker can read identities without jinja2."""
