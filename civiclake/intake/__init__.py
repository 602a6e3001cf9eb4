"""The district's intake API: residents' requests in, as Open311 GeoReport v2 posts.

A client app (the i龙华 mini program, the 12345 hotline's bridge) posts a request with its
API key; the service checks it (``app``), places it in the district (``places``), turns the
resident's contact details into tokens and enters it as a case of the governance system
(``store``), and answers its status, department and feedback to later GETs. Keys and their
channels (``clients``), rate limits and the guard against repeated posts (``limits``) and
the service's clock (``clock``) are small modules of their own.
"""
