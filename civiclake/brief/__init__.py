"""The leaders' daily brief by e-mail: each district, street or community leader gets the
headline numbers of their own area from the published marts (mart_leader_brief_daily),
as a text body and a PNG, once per day.

Modules: ``recipients`` (who gets which area, from dashboards/users.yaml), ``rows`` (the
area's row of the day), ``numbers`` (how a headline number is written), ``compose`` (the
e-mail), ``render`` (the PNG), ``ledger`` (what was already sent), ``mailer`` (SMTP),
``push`` (the whole run).
"""
