"""The review queue: the cases the classifier was unsure of, as a person sees them to decide.

``queue``: each waiting case with its text, the model's top suggestions with their
probabilities, its place and channel, and the card (subject, Markdown body, options) that
Airflow's human-in-the-loop task shows the reviewer. Decisions are recorded as reviewers'
corrections (``civiclake.dispatch.corrections``).
"""
