"""Case dispatch after the classifier: routing rules, duplicate detection and reviewers' corrections."""
