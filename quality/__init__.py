"""Great Expectations suites that gate silver tables and marts."""
