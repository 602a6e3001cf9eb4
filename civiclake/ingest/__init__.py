"""Sources into the lake, the steps every ingest job shares: extraction into bronze
(``extract``), personal data → tokens (``tokens``), row checks and quarantine
(``quarantine``), the result of a run (``results``), the reference tables (``reference``);
file exports (reader, validator, loader), the registry office's extracts, and how long raw
files are kept."""
