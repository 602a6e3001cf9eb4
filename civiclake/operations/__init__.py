"""Joint operations (联合行动): plans, starting one for an area, following its orders up."""
