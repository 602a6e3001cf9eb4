"""Manhole covers under 先修后定 ("repair first, settle later"): the settlement of a repair's cost."""
