"""The case funnel: every channel's cases as one case model (``silver.cases``) and the
category catalogue's mapping per source system."""
