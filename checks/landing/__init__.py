"""The landing zone: where customer drops arrive (a folder or S3), how they are fetched, decrypted, recorded and audited.

Stages, one module each: ``source`` (list and fetch), ``decrypt`` (GnuPG), ``ledger`` (SQLite record of
every object version), ``ingest`` (fetch every new object into staging), ``audit`` (what is missing or
wrong) and ``gate`` (verify the staged bytes against the ledger, audit, feed checks, expectation suites: is the
load safe). ``quoting`` shows names and content from the source as data. Watching every feed over time:
``metrics`` (what a delta brought), ``anomalies`` (a delta or a silence far from the feed's usual),
``history`` (the figures per feed, as a table and a page), ``notify`` (webhooks) and ``feeds`` (the feeds file).
"""
