"""Pages of the rights requests: ``member`` (the person's own pages), ``webform`` (without an account session:
the web form verified by SMS code, close relatives, guardians), ``staff`` (the privacy officers' desk)."""
