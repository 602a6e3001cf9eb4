"""Case classifier: category of a case from its text, with a calibrated confidence."""
