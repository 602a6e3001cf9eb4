"""Simulators of the district's source systems and the connectors that read them."""
