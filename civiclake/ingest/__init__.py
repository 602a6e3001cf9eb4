"""Source files into the lake: file exports (reader, validator, loader), the registry
office's extracts, and how long raw files are kept."""
